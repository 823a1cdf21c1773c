"""Redis key names ILS Jobs adds beside BullMQ's own (which BullMQ documents and owns).

All live under the configured prefix, so one prefix isolates one deployment (or one test). On a
Redis Cluster a queue's BullMQ keys, and the company indexes kept beside them, carry the queue's
hash tag (``<prefix>:{<tag>}:<queue>:...``, :meth:`ils.queue.settings.Settings.queue_prefix`);
the others below are read and written one key per command (or in pipelines a cluster client
splits by node), never in one script or MULTI/EXEC, so they may live on any node:

- ``<prefix>:ils:workers`` (sorted set): worker id -> last heartbeat (ms);
- ``<prefix>:ils:worker:<id>`` (hash): host, pid, queues, started, last_seen, counts; expires;
- ``<prefix>:ils:tp:<queue>:<hour>`` (hash): ``<minute>:<outcome>`` -> jobs that minute
  (completed, failed, retried); expires after 25 h;
- ``<prefix>:ils:metrics:jobs`` (hash): ``<queue>|<name>|<outcome>`` -> jobs so far;
- ``<prefix>:ils:metrics:duration`` (hash): ``<queue>|<name>|<bucket>`` -> runs, and ``|sum``
  (seconds): the run-time histogram (its count is the buckets' sum; a ``|count`` field written
  by older versions is not read);
- ``<prefix>:ils:metrics:stalled`` (hash): ``<queue>`` -> jobs the stalled-job check handed back;
- ``<prefix>:ils:cancel`` (hash): ``<queue>:<job id>`` -> when an admin asked to cancel it (ms);
- ``<prefix>:ils:first-failure:<queue>:<job id>`` (string): when a job that is being retried
  first failed (ms), for its dead letter (:mod:`ils.queue.dead_letters`); expires after 30 days;
- ``<prefix>:ils:dlq-swept:<queue>`` (string): the failure time (ms) up to which the dead-letter
  sweep has read the queue's failed set (:mod:`ils.queue.dead_letter_sweep`);
- ``<prefix>:ils:company:<company id>:<queue>`` (sorted set): job id -> when it was added (ms): the
  company's jobs of one queue, written just before each add (by ``ils.queue.tenancy.add_job``, or
  by a Node producer with ``ZADD``), pruned of jobs BullMQ has removed by the readers and writers
  of :mod:`ils.queue.tenancy` (whose Lua scripts document their contracts). The job's company
  itself is the ``_ilsCompany`` field of its data; the index only makes a company's lists fast;
- ``<prefix>:ils:notifications`` (pub/sub channel): the live notification events of
  :mod:`ils.jobs.notification.channel`;
- ``<prefix>:ils:login:<digest>`` and ``<prefix>:ils:login-ip:<digest>`` (counters): failed
  logins per email and address, and per address (hashed: no address in a key name); expire with
  their window (:mod:`ils.web.auth.ratelimit`);
- ``<prefix>:ils:quota:...``: the request quotas' moving windows, named by the ``limits`` library
  under this key prefix (:mod:`ils.web.quotas`).

BullMQ's job schedulers of a queue, ``<prefix>:<queue>:repeat`` (sorted set: scheduler id -> its
next run, ms) and ``<prefix>:<queue>:repeat:<id>`` (hash: name, pattern or every, tz, the jobs'
data and options), are read in one pipeline by :mod:`ils.queue.schedulers` (:func:`schedulers`):
BullMQ's own ``getJobSchedulers`` sends one command per scheduler at once, each on a connection
of its own, which exhausts the connection pool at a few hundred schedulers.

BullMQ's job hash, ``<prefix>:<queue>:<job id>``, and a flow parent's ``:dependencies``,
``:processed``, ``:failed`` and ``:unsuccessful`` beside it, are read directly in a few places (a
pipeline of ``HGET`` over many jobs, a parent's children): :func:`job_hash` and its neighbours
name them from the ``Queue``'s own key prefix; :func:`split_job_key` reads a child's job key (as
those sets name children) back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bullmq import Queue


def schedulers(queue: Queue) -> str:
    """BullMQ's sorted set of ``queue``'s job schedulers; each one's hash is ``<this>:<id>``."""
    return f"{queue.prefix}:{queue.name}:repeat"


def workers_index(prefix: str) -> str:
    return f"{prefix}:ils:workers"


def worker_record(prefix: str, worker_id: str) -> str:
    return f"{prefix}:ils:worker:{worker_id}"


def throughput(prefix: str, queue: str, hour: int) -> str:
    """Per-minute outcome counts of one queue for one hour (``hour`` = epoch seconds // 3600)."""
    return f"{prefix}:ils:tp:{queue}:{hour}"


def _pair_field(first: object, second: str) -> str:
    """A hash field of two parts, ``<first>:<second>`` (``first`` holds no ``:``)."""
    return f"{first}:{second}"


def _split_field(field: str) -> tuple[str, str]:
    """The two parts of a :func:`_pair_field`."""
    first, _, second = field.partition(":")
    return first, second


def throughput_field(minute: int, outcome: str) -> str:
    """The field of :func:`throughput` counting ``outcome`` in ``minute`` (epoch seconds // 60)."""
    return _pair_field(minute, outcome)


def parse_throughput_field(field: str) -> tuple[int, str]:
    """``(minute, outcome)`` of a :func:`throughput_field`."""
    minute, outcome = _split_field(field)
    return int(minute), outcome


def job_totals(prefix: str) -> str:
    return f"{prefix}:ils:metrics:jobs"


def job_durations(prefix: str) -> str:
    return f"{prefix}:ils:metrics:duration"


def stalled_totals(prefix: str) -> str:
    """Jobs handed back to wait by the stalled-job check, per queue (``/metrics``)."""
    return f"{prefix}:ils:metrics:stalled"


def cancel_requests(prefix: str) -> str:
    return f"{prefix}:ils:cancel"


def cancel_field(queue: str, job_id: str) -> str:
    """The field of :func:`cancel_requests` asking to cancel ``queue``/``job_id``."""
    return _pair_field(queue, job_id)


def parse_cancel_field(field: str) -> tuple[str, str]:
    """``(queue, job_id)`` of a :func:`cancel_field` (job ids hold no ``:``; queue names none)."""
    return _split_field(field)


def first_failure(prefix: str, queue: str, job_id: str) -> str:
    """When ``queue``/``job_id`` first failed (ms), while it is retried."""
    return f"{prefix}:ils:first-failure:{queue}:{job_id}"


def dead_letter_sweep(prefix: str, queue: str) -> str:
    """How far (ms) the dead-letter sweep has read ``queue``'s failed set."""
    return f"{prefix}:ils:dlq-swept:{queue}"


def company_jobs(prefix: str, queue: str, company_id: int) -> str:
    """One company's jobs of one queue (see :mod:`ils.queue.tenancy`)."""
    return f"{prefix}:ils:company:{company_id}:{queue}"


def tagged_prefix(prefix: str, tag: str) -> str:
    """A queue's key prefix on a Redis Cluster: ``<prefix>:{<tag>}``, so that every key under it
    hashes to the slot of ``tag`` alone."""
    return f"{prefix}:{{{tag}}}"


def queue_key_prefix(prefix: str, queue: str) -> str:
    """What BullMQ's keys of ``queue`` start with, its job hashes' and lists' alike (BullMQ owns
    them; we only read them): ``<prefix>:<queue>:``, ``prefix`` the queue's own (hash-tagged on
    a Redis Cluster)."""
    return f"{prefix}:{queue}:"


def all_keys_pattern(prefix: str) -> str:
    """The pattern of every key of the deployment using ``prefix`` (an ACL user's key rule)."""
    return f"{prefix}:*"


def notifications_channel(prefix: str) -> str:
    """The pub/sub channel of one deployment's live notification events."""
    return f"{prefix}:ils:notifications"


def login_failures(prefix: str, digest: str) -> str:
    """Failed logins of one (email, address) pair, by its digest."""
    return f"{prefix}:ils:login:{digest}"


def login_ip_failures(prefix: str, digest: str) -> str:
    """Failed logins from one address (any email), by its digest."""
    return f"{prefix}:ils:login-ip:{digest}"


def quotas(prefix: str) -> str:
    """The key prefix under which the ``limits`` library keeps the request quotas' windows."""
    return f"{prefix}:ils:quota"


def job_hash_prefix(queue: Queue) -> str:
    """BullMQ's key prefix of ``queue``'s job hashes (``<prefix>:<queue>:``)."""
    return str(queue.keys[""])


def job_hash(queue: Queue, job_id: str) -> str:
    """BullMQ's hash of one job of ``queue`` (BullMQ owns it; we only read it)."""
    return f"{job_hash_prefix(queue)}{job_id}"


def job_lock(queue: Queue, job_id: str) -> str:
    """BullMQ's lock of an active job: its value is the holding worker's token."""
    return f"{job_hash(queue, job_id)}:lock"


def job_dependencies(queue: Queue, job_id: str) -> str:
    """BullMQ's set of a flow parent's pending children."""
    return f"{job_hash(queue, job_id)}:dependencies"


def job_processed(queue: Queue, job_id: str) -> str:
    """BullMQ's hash of a flow parent's finished children and their return values."""
    return f"{job_hash(queue, job_id)}:processed"


def job_failed_children(queue: Queue, job_id: str) -> str:
    """BullMQ's hash of a flow parent's children that failed with ``ignoreDependencyOnFailure``
    (child job key -> failure reason)."""
    return f"{job_hash(queue, job_id)}:failed"


def job_unsuccessful(queue: Queue, job_id: str) -> str:
    """BullMQ's sorted set of a flow parent's children that failed it (``failParentOnFailure``)."""
    return f"{job_hash(queue, job_id)}:unsuccessful"


def split_job_key(prefix: str, key: str) -> tuple[str, str]:
    """``(queue, job id)`` of a job key ``<prefix>:<queue>:<job id>``, or on a Redis Cluster
    ``<prefix>:{<tag>}:<queue>:<job id>`` (queue names and job ids hold no ``:``, tags no ``}``)."""
    head = f"{prefix}:"
    rest = key[len(head) :] if key.startswith(head) else key
    if rest.startswith("{"):
        rest = rest.partition("}:")[2]
    queue, _, job_id = rest.partition(":")
    return queue, job_id


def failed_set(queue: Queue) -> str:
    """BullMQ's sorted set of ``queue``'s failed jobs, scored by when they failed (ms)."""
    return f"{job_hash_prefix(queue)}failed"
