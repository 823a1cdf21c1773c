"""Over HTTP, as another service would (docs/examples.md shows it): log in, create an order,
and follow the jobs it enqueued through the admin API. Any HTTP client works; this one uses
httpx. Run it against a running ``ils serve`` (``make run`` prints the demo logins):
``python -m docs.examples.http_order http://127.0.0.1:8000 admin@... PASSWORD``. The test suite
runs :func:`main` against its own ``ils serve`` (``tests/web/dashboard/test_docs_http.py``).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx

ORDER = {
    "customer_name": "Dana Whitfield",
    "lines": [
        {"kind": "lens", "description": "SV 1.6 AR", "quantity": 2, "unit_price": "33.33",
         "eye": "both"},
        {"kind": "frame", "description": "Acetate frame", "unit_price": "89.90"},
    ],
    "rx": {"right": {"sphere": "-2.25", "cylinder": "-0.50", "axis": 180},
           "left": {"sphere": "-2.00"}, "pd_binocular": "63.5"},
}  # fmt: skip


async def state_of(client: httpx.AsyncClient, ref: dict[str, str]) -> str:
    """A job's state: ``"outbox"`` until the relay adds it to its queue (right after the commit),
    then BullMQ's (``waiting``, ``active``, ``completed``...)."""
    job = await client.get(f"/api/queue/{ref['queue']}/jobs/{ref['job_id']}")
    job.raise_for_status()
    return str(job.json()["state"])


async def main(base_url: str, email: str, password: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        # The session cookie and the CSRF cookie come back with the login...
        login = await client.post("/api/auth/login", json={"email": email, "password": password})
        login.raise_for_status()
        # ...and every state-changing request echoes the CSRF cookie in a header.
        csrf = {"X-CSRF-Token": client.cookies["ils_csrf"]}
        created = await client.post("/api/orders", json=ORDER, headers=csrf)
        created.raise_for_status()
        answer = created.json()  # {"order": {...}, "jobs": [{"queue", "name", "job_id"}, ...]}
        # The jobs were enqueued in the order's own transaction (the outbox): each one's state.
        states = {}
        for ref in answer["jobs"]:
            states[f"{ref['queue']}/{ref['name']}"] = await state_of(client, ref)
        # Bad input is a 422 naming the field; nothing is created.
        bad = await client.post("/api/orders", json={**ORDER, "lines": []}, headers=csrf)
    return {
        "order": answer["order"]["number"],
        "jobs": states,
        "bad": [bad.status_code, [e["loc"][-1] for e in bad.json()["detail"]]],
    }


if __name__ == "__main__":
    print(asyncio.run(main(*sys.argv[1:4])))
