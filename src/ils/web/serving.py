"""How ``ils serve`` runs uvicorn: the options that keep client addresses and logs honest.

Uvicorn's own proxy-header handling is off (``ils.web.proxies`` trusts only the configured
proxies), and the access log names paths without their query strings.
"""

from __future__ import annotations

import logging
from typing import Any

# proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 by default.
# log_config None: uvicorn's loggers go to the root handler of ils.logs, so its lines come in the
# process's format (JSON too) instead of uvicorn's own.
UVICORN_OPTIONS: dict[str, Any] = {
    "proxy_headers": False,
    "server_header": False,
    "log_config": None,
}


class DropQueryString(logging.Filter):
    """Cuts the query string from uvicorn's access lines: a rejected (hostile) value, a search
    for a patient's name or a token sent by mistake must not land in the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def quiet_access_log() -> None:
    """Install :class:`DropQueryString` on uvicorn's access logger (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryString) for f in logger.filters):
        logger.addFilter(DropQueryString())
