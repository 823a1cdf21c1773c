"""How ``ils serve`` runs uvicorn: its own proxy-header trust is off (only ILS_TRUSTED_PROXIES
counts) and access lines name paths without their query strings."""

from __future__ import annotations

import logging

import pytest
import uvicorn
from fastapi import FastAPI

from ils.web.serving import UVICORN_OPTIONS, quiet_access_log


def test_uvicorn_believes_no_forwarded_headers():
    config = uvicorn.Config(FastAPI(), **UVICORN_OPTIONS)
    assert config.proxy_headers is False


def test_access_lines_drop_the_query_string(caplog: pytest.LogCaptureFixture):
    quiet_access_log()
    quiet_access_log()  # once is enough: no second filter
    access = logging.getLogger("uvicorn.access")
    assert len(access.filters) == 1
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        # The arguments uvicorn's access logger passes: client, method, path, version, status.
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                    "/api/orders?limit=zq-secret-9", "1.1", 422)  # fmt: skip
    assert caplog.records[-1].getMessage() == '127.0.0.1:5000 - "GET /api/orders HTTP/1.1" 422'
    assert "zq-secret-9" not in caplog.text
