"""The login limiter: failed logins counted per email and client IP, and per IP alone, in a
fixed window. The per-IP count is checked before any password is hashed, so random emails from
one address cannot burn the server's CPU on Argon2.

Counters live in Redis (``<prefix>:ils:login:<digest>``, expiring with the window) so every web
process shares them. When Redis does not answer, each process counts on its own until it does:
a login is never refused with a 500 because the limiter's store is down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from fastapi import HTTPException, status
from redis.exceptions import RedisError

from ils.queue import keys
from ils.queue.broker import CONNECTION_ERRORS, Broker

log = logging.getLogger(__name__)

# What "the store is down" looks like: redis-py's errors and the raw socket ones.
STORE_ERRORS: tuple[type[BaseException], ...] = (RedisError, *CONNECTION_ERRORS)

# Bound on the in-process fallback's memory; expired windows are dropped first.
MAX_LOCAL_KEYS = 10_000


@dataclass(frozen=True)
class LimitState:
    failures: int
    retry_after_s: int

    def blocked(self, max_failures: int) -> bool:
        return self.failures >= max_failures


def too_many(state: LimitState, what: str) -> HTTPException:
    """The 429 for a blocked ``state``, with its Retry-After; ``what`` names the failures."""
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"too many {what}: try again in {state.retry_after_s} s",
        headers={"Retry-After": str(state.retry_after_s)},
    )


class LoginLimiter:
    """Counts failed logins per (email, IP); :meth:`check` says whether to refuse the next one."""

    def __init__(
        self,
        broker: Broker,
        prefix: str,
        max_failures: int,
        window_s: int,
        ip_max_failures: int = 50,
    ) -> None:
        self.broker = broker
        self.prefix = prefix
        self.max_failures = max_failures
        self.ip_max_failures = ip_max_failures
        self.window_s = window_s
        self._local: dict[str, tuple[int, float]] = {}
        self._degraded = False

    def key(self, email: str, ip: str) -> str:
        # Hashed, so neither addresses nor IPs appear in Redis key names.
        digest = hashlib.sha256(f"{email.strip().lower()}|{ip}".encode()).hexdigest()[:40]
        return keys.login_failures(self.prefix, digest)

    def ip_key(self, ip: str) -> str:
        digest = hashlib.sha256(f"ip|{ip}".encode()).hexdigest()[:40]
        return keys.login_ip_failures(self.prefix, digest)

    async def check_ip(self, ip: str) -> LimitState:
        """The failures from ``ip`` (any email) in the current window, and when it ends."""
        return await self._state(self.ip_key(ip))

    async def check(self, email: str, ip: str) -> LimitState:
        """The failures counted so far in the current window, and when the window ends."""
        return await self._state(self.key(email, ip))

    async def _state(self, key: str) -> LimitState:
        try:
            async with self.broker.admin_client.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.ttl(key)
                raw, ttl = await pipe.execute()
        except STORE_ERRORS as exc:
            self._fall_back(exc)
            return self._local_state(key)
        self._recovered()
        return LimitState(int(raw or 0), max(int(ttl), 1) if raw else 0)

    async def failed(self, email: str, ip: str) -> LimitState:
        """Count one more failure for the email and IP, and for the IP alone; the window starts
        with the first failure. A correct login later clears only the first count."""
        await self._count(self.ip_key(ip))
        return await self._count(self.key(email, ip))

    async def _count(self, key: str) -> LimitState:
        try:
            async with self.broker.admin_client.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=self.window_s, nx=True)
                pipe.incr(key)
                pipe.ttl(key)
                _, count, ttl = await pipe.execute()
        except STORE_ERRORS as exc:
            self._fall_back(exc)
            return self._local_failed(key)
        self._recovered()
        return LimitState(int(count), max(int(ttl), 1))

    async def succeeded(self, email: str, ip: str) -> None:
        """A correct login clears the count for this email and IP."""
        key = self.key(email, ip)
        self._local.pop(key, None)
        try:
            await self.broker.admin_client.delete(key)
        except STORE_ERRORS as exc:
            self._fall_back(exc)

    # -- in-process fallback -----------------------------------------------------------------

    def _fall_back(self, exc: BaseException) -> None:
        if not self._degraded:
            log.warning(
                "login limiter: Redis did not answer (%s); counting failures in this process",
                exc,
            )
            self._degraded = True

    def _recovered(self) -> None:
        if self._degraded:
            log.info("login limiter: Redis answers again; counting failures in Redis")
            self._degraded = False

    def _local_state(self, key: str) -> LimitState:
        count, ends = self._local.get(key, (0, 0.0))
        left = ends - time.monotonic()
        if left <= 0:
            return LimitState(0, 0)
        return LimitState(count, max(math.ceil(left), 1))

    def _local_failed(self, key: str) -> LimitState:
        now = time.monotonic()
        count, ends = self._local.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + self.window_s
        if key not in self._local and len(self._local) >= MAX_LOCAL_KEYS:
            self._prune(now)
        self._local[key] = (count + 1, ends)
        return LimitState(count + 1, max(math.ceil(ends - now), 1))

    def _prune(self, now: float) -> None:
        for stale in [k for k, (_, ends) in self._local.items() if ends <= now]:
            del self._local[stale]
        while len(self._local) >= MAX_LOCAL_KEYS:
            # Still full of live windows: drop the one that ends soonest.
            del self._local[min(self._local, key=lambda k: self._local[k][1])]
