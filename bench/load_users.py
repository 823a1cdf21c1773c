"""Simulated users of ``make load``: each signs in as one demo account, stays in its company, and
does the seed's mix (browse, create orders, download PDFs, AI chat) with think times, on httpx.

A user is a closed loop: one request at a time, then a pause drawn from an exponential
distribution around ``think_s``, so 1,000 users thinking 15 s on average offer about 67 requests
a second. Users start ``spawn_rate`` a second and stop at the deadline (their request in flight is
let finish, bounded by the request timeout). Each demo account signs in once (the real login,
Argon2 at its production cost, session cookie and CSRF token); its users share that session, as
people at one desk would. Every request is timed from send to the last byte of its answer and
filed under its action; an exception (refused, timed out) is filed by its type.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from orders_load import ORDER
from reporting import percentile

# The seed's mix: weights of what a user does next (browsing most, then PDFs, orders and chat).
DEFAULT_MIX: dict[str, float] = {
    "list_orders": 30,
    "list_products": 20,
    "list_notifications": 15,
    "create_order": 10,
    "download_pdf": 15,
    "ai_chat": 10,
}
QUESTIONS = (
    "How many orders today?",
    "How many orders are pending?",
    "Which products are low on stock?",
    "How many orders did we get yesterday?",
)
CSRF_COOKIE, CSRF_HEADER = "ils_csrf", "X-CSRF-Token"
# The orders a company keeps in mind for PDF downloads: its newest, created during the run.
KNOWN_ORDERS = 200


def parse_mix(text: str) -> dict[str, float]:
    """``action=weight,...`` (every action of :data:`DEFAULT_MIX`, weights >= 0, not all 0)."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        if name not in DEFAULT_MIX:
            raise ValueError(f"unknown action {name!r}; one of {', '.join(DEFAULT_MIX)}")
        mix[name] = float(weight)
        if mix[name] < 0:
            raise ValueError(f"{name}: a weight must not be negative")
    if not any(mix.values()):
        raise ValueError("at least one action needs a positive weight")
    return mix


@dataclass
class Recorder:
    """Latencies (ms; also of the 2xx answers alone), statuses and exceptions per action."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    ok_latencies: dict[str, list[float]] = field(default_factory=dict)  # of 2xx answers only
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    exceptions: dict[str, dict[str, int]] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=lambda: {"found": 0, "none_yet": 0})

    def answered(self, action: str, ms: float, status: int) -> None:
        self.latencies.setdefault(action, []).append(ms)
        if 200 <= status < 300:
            self.ok_latencies.setdefault(action, []).append(ms)
        codes = self.statuses.setdefault(action, {})
        codes[status] = codes.get(status, 0) + 1

    def failed(self, action: str, exc: BaseException) -> None:
        kinds = self.exceptions.setdefault(action, {})
        kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1

    def summary(self) -> dict[str, Any]:
        """Per action: requests, p50/p99/max ms, error count and rate (a status >= 400 or an
        exception), 503s (admission control shedding), 429s (quotas), the p99 of the 2xx answers
        alone (a shed request is answered fast); and the totals."""
        actions: dict[str, Any] = {}
        names = sorted(set(self.latencies) | set(self.exceptions))
        for name in names:
            lat, ok = self.latencies.get(name, []), self.ok_latencies.get(name, [])
            codes = self.statuses.get(name, {})
            raised = sum(self.exceptions.get(name, {}).values())
            errors = raised + sum(n for code, n in codes.items() if code >= 400)
            actions[name] = {
                "requests": len(lat) + raised,
                "p50_ms": round(percentile(lat, 50), 1) if lat else None,
                "p99_ms": round(percentile(lat, 99), 1) if lat else None,
                "max_ms": round(max(lat), 1) if lat else None,
                "p99_ok_ms": round(percentile(ok, 99), 1) if ok else None,
                "errors": errors,
                "error_rate": round(errors / max(1, len(lat) + raised), 4),
                "shed_503": codes.get(503, 0),
                "limited_429": codes.get(429, 0),
                "status_codes": {str(k): v for k, v in sorted(codes.items())},
                "exceptions": dict(self.exceptions.get(name, {})),
            }
        every = [x for lat in self.latencies.values() for x in lat]
        requests = sum(a["requests"] for a in actions.values())
        errors = sum(a["errors"] for a in actions.values())
        return {
            "actions": actions,
            "requests": requests,
            "errors": errors,
            "error_rate": round(errors / max(1, requests), 4),
            "p50_ms": round(percentile(every, 50), 1) if every else None,
            "p99_ms": round(percentile(every, 99), 1) if every else None,
            "documents": dict(self.documents),
        }


@dataclass
class Account:
    """One demo login and what signing in gave: its cookies and CSRF header."""

    email: str
    password: str
    company: str
    cookies: httpx.Cookies = field(default_factory=httpx.Cookies)
    headers: dict[str, str] = field(default_factory=dict)


async def sign_in(base_url: str, account: Account, timeout_s: float) -> None:
    """``POST /api/auth/login``; the session and CSRF cookies kept on ``account``."""
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s) as client:
        body = {"email": account.email, "password": account.password}
        response = await client.post("/api/auth/login", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"login of {account.email}: {response.status_code} {response.text}")
        account.cookies = httpx.Cookies(client.cookies)
        account.headers = {CSRF_HEADER: client.cookies[CSRF_COOKIE]}


class Company:
    """What the users of one company share: the orders they created during the run."""

    def __init__(self) -> None:
        self.orders: list[int] = []

    def created(self, order_id: int) -> None:
        self.orders.append(order_id)
        del self.orders[:-KNOWN_ORDERS]


class User:
    """One simulated person: their account's session, their company, their own conversation."""

    def __init__(
        self, client: httpx.AsyncClient, company: Company, rng: random.Random,
        recorder: Recorder,
    ) -> None:  # fmt: skip
        self.client, self.company, self.rng, self.recorder = client, company, rng, recorder
        self.conversation: int | None = None

    async def call(self, action: str, method: str, url: str, **kw: Any) -> httpx.Response | None:
        """One timed request filed under ``action``; None when it raised."""
        t0 = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.recorder.failed(action, exc)
            return None
        self.recorder.answered(action, (time.perf_counter() - t0) * 1000, response.status_code)
        return response

    async def list_orders(self) -> None:
        await self.call("list_orders", "GET", "/api/orders", params={"limit": 50})

    async def list_products(self) -> None:
        await self.call("list_products", "GET", "/api/products", params={"limit": 50})

    async def list_notifications(self) -> None:
        await self.call("list_notifications", "GET", "/api/notifications")

    async def create_order(self) -> None:
        response = await self.call("create_order", "POST", "/api/orders", json=ORDER)
        if response is not None and response.status_code == 201:
            self.company.created(response.json()["order"]["id"])

    async def download_pdf(self) -> None:
        """One of the company's orders of this run (an older one: its PDFs had time), its
        documents listed, the newest downloaded when there is one."""
        orders = self.company.orders
        if not orders:
            await self.list_orders()  # nothing to download yet: the user browses instead
            return
        order_id = orders[self.rng.randrange(max(1, len(orders) // 2))]
        listed = await self.call("order_documents", "GET", f"/api/orders/{order_id}/documents")
        if listed is None or listed.status_code != 200:
            return
        documents = listed.json()
        if not documents:
            self.recorder.documents["none_yet"] += 1
            return
        self.recorder.documents["found"] += 1
        await self.call("download_pdf", "GET", f"/api/documents/{documents[0]['id']}")

    async def ai_chat(self) -> None:
        if self.conversation is None:
            made = await self.call("ai_conversation", "POST", "/api/ai/conversations", json={})
            if made is None or made.status_code != 201:
                return
            self.conversation = made.json()["id"]
        question = {"content": self.rng.choice(QUESTIONS)}
        url = f"/api/ai/conversations/{self.conversation}/messages"
        await self.call("ai_chat", "POST", url, json=question)

    def actions(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {name: getattr(self, name) for name in DEFAULT_MIX}


async def baseline(base_url: str, stop: asyncio.Event, every_s: float = 0.1) -> dict[str, Any]:
    """``GET /healthz`` timed every ``every_s`` until ``stop``: the web process's floor under the
    same load (no database, never held back by admission control), the run's baseline."""
    recorder = Recorder()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        user = User(client, Company(), random.Random(0), recorder)
        while not stop.is_set():
            await user.call("healthz", "GET", "/healthz")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
    summary: dict[str, Any] = recorder.summary()["actions"].get("healthz", {})
    return summary


@dataclass(frozen=True)
class Plan:
    """How many users, for how long, how fast they arrive, how long they think, what they do."""

    users: int
    duration_s: float
    spawn_rate: float
    think_s: float
    mix: dict[str, float]
    timeout_s: float = 30.0
    seed: int = 16


async def run_users(base_url: str, accounts: list[Account], plan: Plan) -> dict[str, Any]:
    """Sign the accounts in, run ``plan.users`` users over them (user ``i`` is account
    ``i mod len(accounts)``'s), and summarize what they saw."""
    for account in accounts:
        await sign_in(base_url, account, plan.timeout_s)
    companies = {a.company: Company() for a in accounts}
    recorder = Recorder()
    tls = ssl.create_default_context()  # one for all clients (each would build its own)
    # uvicorn closes a connection idle for 5 s: drop it first rather than race its close.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=4)
    start = time.perf_counter()
    deadline = start + plan.duration_s
    names, weights = list(plan.mix), list(plan.mix.values())

    async def one(i: int) -> None:
        account = accounts[i % len(accounts)]
        rng = random.Random(plan.seed * 1_000_003 + i)
        await asyncio.sleep(i / plan.spawn_rate)
        async with httpx.AsyncClient(
            base_url=base_url, cookies=account.cookies, headers=account.headers,
            timeout=plan.timeout_s, limits=limits, verify=tls,
        ) as client:  # fmt: skip
            user = User(client, companies[account.company], rng, recorder)
            actions = user.actions()
            while time.perf_counter() < deadline:
                await actions[rng.choices(names, weights)[0]]()
                pause = rng.expovariate(1 / plan.think_s) if plan.think_s > 0 else 0.0
                await asyncio.sleep(min(pause, max(0.0, deadline - time.perf_counter())))

    stop = asyncio.Event()
    floor = asyncio.create_task(baseline(base_url, stop))
    await asyncio.gather(*(one(i) for i in range(plan.users)))
    stop.set()
    summary = recorder.summary()
    summary |= {"wall_s": round(time.perf_counter() - start, 1), "baseline": await floor}
    return summary
