"""An open-loop load generator: requests sent at a constant pace, as wrk2 and vegeta do.

Request ``i`` is due at ``start + i / rate`` whatever became of the earlier ones, and its
latency is counted from when it was due, not from when it could be sent, so a stalled server
cannot hide its stall by slowing the client down (no coordinated omission). Requests are spread
evenly: a tool whose workers each tick at the same moment (``hey -q``) sends bursts instead.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class PaceResult:
    latencies_ms: list[float] = field(default_factory=list)
    status_codes: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def summary(self, duration_s: float) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(len(lat) * p))] if lat else float("nan")

        total = sum(self.status_codes.values()) + sum(self.errors.values())
        return {
            "requests": total,
            "rate_achieved": round(total / duration_s, 1),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": lat[-1] if lat else float("nan"),
            "status_codes": dict(sorted(self.status_codes.items())),
            "errors": "; ".join(f"{k}: {v}" for k, v in self.errors.items()),
        }


async def pace(
    url: str,
    rate: float,
    duration_s: float,
    method: str = "GET",
    json_body: Any = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Send ``rate`` requests per second to ``url`` for ``duration_s`` seconds."""
    result = PaceResult()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=headers or {}) as client:

        async def one(due: float) -> None:
            try:
                response = await client.request(method, url, json=json_body)
            except httpx.HTTPError as exc:
                result.errors[type(exc).__name__] = result.errors.get(type(exc).__name__, 0) + 1
                return
            result.latencies_ms.append((time.perf_counter() - due) * 1000)
            code = response.status_code
            result.status_codes[code] = result.status_codes.get(code, 0) + 1

        start = time.perf_counter()
        tasks = []
        for i in range(int(rate * duration_s)):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
    return result.summary(duration_s)
