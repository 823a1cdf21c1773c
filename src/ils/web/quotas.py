"""Per-user and per-company quotas on the routes that enqueue work, answered with 429.

Counted with ``limits``' moving windows in Redis (keys ``<prefix>:ils:quota:...``, over the
broker's own connection pool; on a Redis Cluster over ``limits``' own cluster client, each window
one key), so every web process shares them. While Redis does not answer, requests pass (the
enqueue's own fallback policy applies) and one warning says so.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisClusterStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool

from ils.errors import IlsJobsError
from ils.queue import keys
from ils.queue.broker import Broker
from ils.web.auth.ratelimit import STORE_ERRORS
from ils.web.quota_settings import QuotaRule

log = logging.getLogger(__name__)


class QuotaExceeded(IlsJobsError):
    """A user or company used up a quota; answered 429 with ``Retry-After``."""

    def __init__(self, kind: str, scope: str, limit: int, window_s: int, retry_after_s: int):
        self.kind = kind
        self.scope = scope
        self.limit = limit
        self.window_s = window_s
        self.retry_after_s = retry_after_s
        super().__init__(
            f"{kind} quota of this {scope} used up ({limit} per {window_s} s): "
            f"try again in {retry_after_s} s"
        )


class QuotaLimiter:
    """Hits the user's and the company's window of a kind; raises :class:`QuotaExceeded`."""

    def __init__(self, broker: Broker, prefix: str, rules: dict[str, QuotaRule]) -> None:
        self.broker = broker
        self.key_prefix = keys.quotas(prefix)
        self.rules = rules
        self._limiter: MovingWindowRateLimiter | None = None
        self._pool: ConnectionPool | None = None
        self._degraded = False

    def _strategy(self) -> MovingWindowRateLimiter:
        # Built on first use over the broker's admin pool (rebuilt if the broker made a new one):
        # no second connection setting, and the embedded server's URL is known only by then.
        if self.broker.cluster:
            return self._cluster_strategy()
        pool = self.broker.admin_client.connection_pool
        if self._limiter is None or pool is not self._pool:
            storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                key_prefix=self.key_prefix,
                connection_pool=pool,  # type: ignore[arg-type]  # limits types options narrowly
            )
            self._limiter, self._pool = MovingWindowRateLimiter(storage), pool
        return self._limiter

    def _cluster_strategy(self) -> MovingWindowRateLimiter:
        """On a Redis Cluster: ``limits``' cluster storage, seeded with the deployment's node
        (its user and password with it), made once."""
        if self._limiter is None:
            node = self.broker.url.partition("://")[2].rsplit("/", 1)[0]
            storage = RedisClusterStorage(
                f"async+redis+cluster://{node}", implementation="redispy",
                key_prefix=self.key_prefix,
            )  # fmt: skip
            self._limiter = MovingWindowRateLimiter(storage)
        return self._limiter

    async def hit(self, kind: str, user_id: int, company_id: int) -> None:
        """Count one request of ``kind``; raise :class:`QuotaExceeded` if a window is full."""
        rule = self.rules[kind]
        scopes = (("user", rule.user, user_id), ("company", rule.company, company_id))
        try:
            limiter = self._strategy()
            for scope, limit, who in scopes:
                if limit is None:
                    continue
                item = RateLimitItemPerSecond(limit, rule.window_s)
                if not await limiter.hit(item, kind, scope, str(who)):
                    retry = await self._retry_after(limiter, item, kind, scope, str(who))
                    raise QuotaExceeded(kind, scope, limit, rule.window_s, retry)
        except STORE_ERRORS as exc:
            self._fall_back(exc)
            return
        if self._degraded:
            log.info("quotas: Redis answers again; counting quotas again")
            self._degraded = False

    @staticmethod
    async def _retry_after(
        limiter: MovingWindowRateLimiter, item: RateLimitItem, *identifiers: str
    ) -> int:
        stats = await limiter.get_window_stats(item, *identifiers)
        return max(math.ceil(stats.reset_time - time.time()), 1)

    def _fall_back(self, exc: BaseException) -> None:
        if not self._degraded:
            log.warning("quotas: Redis did not answer (%s); requests pass uncounted", exc)
            self._degraded = True
