"""The webhook guide's receivers run: docs/examples/webhook_receiver.py and, with Node and the
``standardwebhooks`` npm package (``make node-deps``), webhook_receiver.cjs each verify a real
delivery of the sender, process an event delivered twice once, refuse a bad signature with 401;
docs/webhooks.md quotes both whole. The Node one is skipped locally where Node or the package is
missing; under ``CI=true`` a missing one fails the run."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shutil
import sys
from collections.abc import AsyncIterator
from ipaddress import ip_network

import pytest

from ils.jobs.webhooks.event import WebhookEvent, new_event_id
from ils.jobs.webhooks.sender import WebhookSender
from ils.jobs.webhooks.settings import WebhookSettings
from ils.jobs.webhooks.signing import new_secret
from tests.conftest import REPO

EXAMPLES = REPO / "docs" / "examples"
PAGE = REPO / "docs" / "webhooks.md"
NODE_MODULES = REPO / "tests" / "node" / "node_modules"
NODE = shutil.which("node")
NODE_MISSING = NODE is None or not (NODE_MODULES / "standardwebhooks").is_dir()
if NODE_MISSING and os.environ.get("CI") == "true":  # CI never skips: `make test` installs them
    raise RuntimeError("Node or its standardwebhooks package is missing under CI=true")


@contextlib.asynccontextmanager
async def receiver(argv: list[str], secret: str) -> AsyncIterator[tuple[str, list[str]]]:
    """The example running on a free port: its URL, then (after the block) its printed lines."""
    env = {**os.environ, "WEBHOOK_SECRET": secret, "NODE_PATH": str(NODE_MODULES)}
    proc = await asyncio.create_subprocess_exec(
        *argv, "0", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
        assert first[:1] == ["listening"], first
        yield f"http://127.0.0.1:{first[1]}/hook", lines
    finally:
        proc.terminate()
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        lines += out.decode().splitlines()


async def check_example(argv: list[str]) -> None:
    secret = new_secret()
    sender = WebhookSender(WebhookSettings(allow=(ip_network("127.0.0.1/32"),)))
    event = WebhookEvent(
        id=new_event_id(), type="order.shipped", company_id=1,
        occurred_at=dt.datetime.now(dt.UTC), data={"order_id": 7, "tracking_number": "1Z"},
    )  # fmt: skip
    try:
        async with receiver(argv, secret) as (url, lines):
            for _ in range(2):  # a retry or a replay: the same webhook-id
                sent = await sender.send(url, event.id, event.body(), [secret])
                assert sent.status_code == 204, sent
            forged = await sender.send(url, event.id, event.body(), [new_secret()])
            assert forged.status_code == 401
    finally:
        await sender.close()
    assert lines == [f"order.shipped {event.id}"]


async def test_the_python_receiver_verifies_and_drops_replays() -> None:
    await check_example([sys.executable, str(EXAMPLES / "webhook_receiver.py")])


@pytest.mark.skipif(NODE_MISSING, reason="Node or standardwebhooks missing: run make node-deps")
async def test_the_node_receiver_verifies_and_drops_replays() -> None:
    assert NODE is not None
    await check_example([NODE, str(EXAMPLES / "webhook_receiver.cjs")])


def test_the_guide_quotes_both_receivers_whole() -> None:
    page = PAGE.read_text()
    for name in ("webhook_receiver.py", "webhook_receiver.cjs"):
        assert (EXAMPLES / name).read_text() in page, name
