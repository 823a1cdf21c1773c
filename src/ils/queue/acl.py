"""The Redis ACL rules of each ILS process role: which commands and keys it needs, and no more.

Derived from what the code sends (docs/production-redis.md tells how, and the tests run a worker,
a producer and the admin stats through these rules on a real server):

- BullMQ does nearly everything in Lua (``EVALSHA``); since Redis 7 every command a script calls
  is checked against the caller's ACL, so the scripts' commands are listed one by one
  (:data:`BULLMQ_SCRIPT_COMMANDS`, every ``rcall`` of the scripts BullMQ ships, tested);
- redis-py's connection set-up, scripts and transactions (:data:`CLIENT_COMMANDS`);
- ILS's own keys (:mod:`ils.queue.keys`: heartbeats, metrics, cancel requests, company indexes,
  login counters) and the ``limits`` library's moving windows (:data:`ILS_COMMANDS`).

Every key lives under the deployment's prefix and the one channel is its notifications channel,
so a role's keys are ``~<prefix>:*`` and its channels ``&<prefix>:ils:notifications``.
"""

from __future__ import annotations

from typing import Literal, get_args

from ils.queue import keys

Role = Literal["web", "worker", "serve"]
ROLES: tuple[Role, ...] = get_args(Role)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Every command the Lua scripts BullMQ ships call (``rcall("...")``, ``pushCmd`` being
#: ``LPUSH``/``RPUSH``, and the pagination's ``SSCAN``/``HSCAN`` with ``SCARD``/``HLEN``).
BULLMQ_SCRIPT_COMMANDS: frozenset[str] = _words(
    """
    del exists get incr incrby persist pexpire pexpireat pttl rename set time type unlink
    hdel hexists hget hgetall hincrby hlen hmget hmset hscan hset
    lindex llen lpop lpos lpush lrange lrem lset ltrim rpop rpoplpush rpush
    sadd scard sismember smembers srem sscan
    zadd zcard zcount zlexcount zpopmin zrange zrangebylex zrangebyscore zrem
    zremrangebyrank zremrangebyscore zrevrange zrevrangebyscore zscore
    xadd xdel xlen xrange xread xtrim
    """
)

#: What redis-py sends around the commands: connecting (``AUTH``/``HELLO``, ``SELECT`` for a
#: database other than 0, the client's name; ILS's clients send no ``CLIENT SETINFO``),
#: ``EVALSHA`` with ``SCRIPT LOAD`` when the server does not know a script yet, ``MULTI``/
#: ``EXEC`` pipelines, and BullMQ's ``INFO`` (it checks the server version and the eviction
#: policy) that the health check reads too.
CLIENT_COMMANDS: frozenset[str] = _words(
    """
    auth hello ping select quit reset client|setname info
    evalsha script|load script|exists multi exec discard
    """
)

#: ILS's own keys (heartbeats, metrics, cancel requests, company indexes and their Lua scripts in
#: :mod:`ils.queue.tenancy`, login counters, the dead-letter sweep, the failed jobs' byte budget)
#: and the ``limits`` library's moving windows (its Lua scripts).
ILS_COMMANDS: frozenset[str] = _words(
    """
    del exists expire get incr incrby pttl rename set ttl
    hdel hget hgetall hincrby hincrbyfloat hkeys hlen hmget hset hstrlen
    lindex lpush lrange ltrim smembers scard
    zadd zcard zinter zintercard zmscore zrange zrangebyscore zrem zremrangebyscore zscore
    """
)

#: What a Redis Cluster client sends besides, when it connects and when a slot moves: the slots'
#: owners (``CLUSTER SLOTS``) and the commands' key positions (``COMMAND``, to route each one).
CLUSTER_COMMANDS: frozenset[str] = _words("cluster|slots command")

#: Beyond the shared data commands: workers wait for jobs with ``BZPOPMIN`` on BullMQ's marker
#: key and publish notifications; the web publishes and subscribes (the live hub). ``ils serve``
#: with its in-process workers (the default) does both.
ROLE_COMMANDS: dict[Role, frozenset[str]] = {
    "worker": frozenset({"bzpopmin", "publish"}),
    "web": frozenset({"publish", "subscribe", "unsubscribe"}),
    "serve": frozenset({"bzpopmin", "publish", "subscribe", "unsubscribe"}),
}


def commands(role: Role, cluster: bool = False) -> list[str]:
    """The commands ``role`` needs (on a Redis Cluster with ``cluster``), sorted."""
    needed = BULLMQ_SCRIPT_COMMANDS | CLIENT_COMMANDS | ILS_COMMANDS | ROLE_COMMANDS[role]
    return sorted(needed | CLUSTER_COMMANDS if cluster else needed)


def rules(role: Role, prefix: str, cluster: bool = False) -> str:
    """The ACL rules of ``role`` for the deployment using ``prefix`` (on a Redis Cluster with
    ``cluster``; no user, no password)."""
    allowed = " ".join(f"+{c}" for c in commands(role, cluster))
    pattern, channel = keys.all_keys_pattern(prefix), keys.notifications_channel(prefix)
    return f"resetkeys ~{pattern} resetchannels &{channel} -@all {allowed}"


def setuser_args(
    user: str, password: str, role: Role, prefix: str, cluster: bool = False
) -> list[str]:
    """``ACL SETUSER`` arguments making ``user`` (enabled, with ``password``) a ``role``."""
    return [user, "reset", "on", f">{password}", *rules(role, prefix, cluster).split()]
