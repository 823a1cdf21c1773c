"""The load driver of ``make load`` (bench/load*.py), run for two seconds with a handful of users
against the real app served by uvicorn on a port, so its code keeps working: users of two
companies sign in, do every action of the mix, and the report reads the jobs from ``/metrics``.

The full run (1,000 users, its own ``ils serve`` and workers) is ``make load``, not a test.
"""

from __future__ import annotations

import asyncio
import random
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from ils.domain.enums import Role
from ils.settings import load_web_settings
from ils.web.settings import WebSettings
from tests.web.conftest import OUTSIDER_EMAIL, PASSWORD, Accounts

BENCH = Path(__file__).resolve().parents[2] / "bench"


# A fast machine gets six users of two accounts through more than a user's 10 AI chats a
# minute in the two seconds: the 429 that follows is the quota doing its job (test_quotas.py),
# counted as an error by the driver. Here every quota is lifted, so each answer is the route's.
NO_QUOTAS = {
    f"ILS_QUOTA_{kind}_{scope}": "none"
    for kind in ("ORDER", "PDF", "EMAIL", "AI", "BULK")
    for scope in ("USER", "COMPANY")
}


@pytest.fixture
def web_settings(tmp_path: Path) -> WebSettings:
    return load_web_settings(NO_QUOTAS, tmp_path / "var")


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """bench/load.py, imported as the bench runs it (its directory on the path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    import load as module

    yield module
    bench = ("load", "load_app", "load_jobs", "load_users", "orders_load", "orders_server", "pacer")
    for name in (*bench, "reporting"):
        sys.modules.pop(name, None)


@pytest.fixture
async def served(api: FastAPI) -> AsyncIterator[str]:
    """The app behind a real uvicorn on a port bound before it starts (so connecting needs no
    wait); its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(api, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_short_run_reports_every_action_and_queue(load: ModuleType, served: str):
    users = sys.modules["load_users"]  # imported by the driver
    accounts = [
        users.Account(Accounts.email(Role.dispenser), PASSWORD, "a"),
        users.Account(OUTSIDER_EMAIL, PASSWORD, "b"),
    ]
    plan = users.Plan(users=6, duration_s=2.0, spawn_rate=30, think_s=0.05,
                      mix=dict(users.DEFAULT_MIX), timeout_s=10)  # fmt: skip
    started, t0 = datetime.now(UTC), time.perf_counter()

    def cpu() -> dict[str, float]:
        return {"web": time.process_time(), "workers": 0.0, "store": 0.0}

    def relayed(now: dict[str, Any]) -> bool:  # no worker here: every job in Redis is enough
        return now["web"]["ils_outbox_pending"] == 0

    measured = await load.measure(served, accounts, plan, 30, cpu, relayed)
    setup = {"workers": 0, "quotas": False, "drain_budget_s": 30}
    out: dict[str, Any] = load.document(measured, plan, setup, started, (0.0, 0.0, 0.0), t0)

    seen = out["run"]["users"]
    # How many actions each user gets through in two seconds depends on the machine: the run
    # must have answered, and without error; every action is then done once below.
    codes = {name: a["status_codes"] for name, a in seen["actions"].items()}
    assert seen["requests"] > 0 and seen["errors"] == 0, codes
    assert seen["baseline"]["requests"] > 0 and seen["baseline"]["errors"] == 0
    jobs = out["run"]["jobs"]["queues"]
    orders = seen["actions"].get("create_order", {}).get("requests", 0)
    assert jobs["email"]["created"] == orders and jobs["pdf"]["created"] == 2 * orders
    assert jobs["ai"]["created"] == seen["actions"].get("ai_chat", {}).get("requests", 0)
    assert jobs["email"]["completed"] == 0
    assert jobs["email"]["completion_end"] == (0.0 if orders else None)
    by_target = {t["target"]: t["met"] for t in out["targets"]}
    assert by_target["99% of jobs completed"] is False
    section = load.markdown(out)
    assert "| baseline: /healthz |" in section
    assert "| pdf |" in section and "**NOT met**" in section

    # Every action of the mix, once, in the mix's order (an order before its PDFs' listing; no
    # worker here, so none is made yet and the download lists only), each answered 2xx.
    recorder, company = users.Recorder(), users.Company()
    await users.sign_in(served, accounts[0], 10)
    async with httpx.AsyncClient(
        base_url=served, cookies=accounts[0].cookies, headers=accounts[0].headers, timeout=10
    ) as client:
        user = users.User(client, company, random.Random(1), recorder)
        for action in user.actions().values():
            await action()
    done = recorder.summary()["actions"]
    assert set(done) == {"list_orders", "list_products", "list_notifications", "create_order",
                         "order_documents", "ai_conversation", "ai_chat"}  # fmt: skip
    answered = {name: a["status_codes"] for name, a in done.items()}
    assert {n: c for n, c in answered.items() if not set(c) <= {"200", "201", "202"}} == {}
    assert recorder.documents == {"found": 0, "none_yet": 1}


def test_the_readme_section_is_replaced_between_its_markers(load: ModuleType, tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Bench\n\n{load.BEGIN}\nold figures\n{load.END}\n\nafter\n")
    load.record("new figures", readme)
    assert readme.read_text() == f"# Bench\n\n{load.BEGIN}\nnew figures\n{load.END}\n\nafter\n"


def test_the_mix_names_every_action_it_weighs(load: ModuleType):
    parse = sys.modules["load_users"].parse_mix
    assert parse("create_order=1,ai_chat=0") == {"create_order": 1.0, "ai_chat": 0.0}
    with pytest.raises(ValueError, match="unknown action 'buy'"):
        parse("buy=3")
    with pytest.raises(ValueError, match="positive weight"):
        parse("ai_chat=0")
