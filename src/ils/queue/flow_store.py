"""Adding a flow to Redis: each of its jobs written into its company's index first (as
:func:`ils.queue.tenancy.add_job` does for one job), then the whole tree in one MULTI/EXEC through
BullMQ's ``FlowProducer``; and the outbox row a flow waits in until its transaction commits.

A flow here is BullMQ's own shape (``FlowJob``: ``name``, ``queueName``, ``data``, ``opts`` with
its ``jobId``, ``children``), built by :mod:`ils.queue.flows` with every job id fixed up front:
adding the same flow twice (a relay that published it, then crashed before marking its row) adds
each job once. An outbox row keeps the parent as its own job (queue, name, data, options) and the
children under the :data:`FLOW_OPTION` key of its options.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from redis.exceptions import NoScriptError

from ils.errors import FlowAcrossServers
from ils.queue.broker import Broker, redact
from ils.queue.outbox_row import OutboxRow
from ils.queue.settings import Settings
from ils.queue.tenancy import index_many, job_company

#: The key of an outbox row's options that holds a flow's children (BullMQ's ``FlowJob`` list).
FLOW_OPTION = "ilsFlow"

FlowJob = dict[str, Any]


def walk(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """``node`` and every job under it, parents before their children."""
    yield node
    for child in node.get("children") or ():
        yield from walk(child)


def size(node: Mapping[str, Any]) -> int:
    """How many jobs the flow has."""
    return sum(1 for _ in walk(node))


def check_one_server(tree: Mapping[str, Any], settings: Settings) -> None:
    """:class:`FlowAcrossServers` unless every job of ``tree`` is on a queue of one Redis server:
    BullMQ writes a parent and its children in one MULTI/EXEC and links them by key."""
    servers: dict[str, list[str]] = {}
    for node in walk(tree):
        queue = str(node["queueName"])
        where = server_of(settings, queue)
        if queue not in servers.setdefault(where, []):
            servers[where].append(queue)
    if len(servers) > 1:
        raise FlowAcrossServers(servers)


def server_of(settings: Settings, queue: str) -> str:
    """The Redis server of ``queue`` as errors name it: its URL without the password; on a Redis
    Cluster its hash tag's slot (a MULTI/EXEC there spans one slot)."""
    if settings.redis_cluster:
        return f"the cluster slot of {{{settings.cluster_tag(queue)}}}"
    url = settings.server_url(queue)
    return "the default server" if url is None else redact(url)


async def add_tree(broker: Broker, tree: FlowJob) -> str:
    """Add the flow ``tree`` to BullMQ (on its queues' one server); the root's job id.

    The company index entries go first, grouped by queue and company (one ``ZADD`` each): no
    moment exists where a company's job is in Redis but not in its lists.
    """
    check_one_server(tree, broker.settings)
    groups: dict[tuple[str, int], list[str]] = {}
    for node in walk(tree):
        company = job_company(node.get("data"))
        if company is not None:
            key = (str(node["queueName"]), company)
            groups.setdefault(key, []).append(str(node["opts"]["jobId"]))
    for (queue, company), ids in groups.items():
        await index_many(broker.queues.get(queue), ids, company)
    root = str(tree["queueName"])
    try:
        added = await (await broker.queues.ready_flow_producer(root)).add(tree)
    except NoScriptError:  # a cluster node restarted without them; the ids make it idempotent
        added = await (await broker.queues.ready_flow_producer(root, reload=True)).add(tree)
    return str(added["job"].id) if added else str(tree["opts"]["jobId"])


def flow_row(tree: FlowJob) -> OutboxRow:
    """The outbox row that keeps ``tree`` until its transaction commits (id: the root's job id)."""
    opts = {**tree["opts"], FLOW_OPTION: tree.get("children") or []}
    return OutboxRow.new(tree["queueName"], tree["name"], tree["data"], opts)


def is_flow_row(row: OutboxRow) -> bool:
    return FLOW_OPTION in row.options


def tree_of(row: OutboxRow, now: dt.datetime) -> FlowJob:
    """The flow a row keeps, as BullMQ takes it at ``now`` (what is left of the root's delay)."""
    opts = row.job_options(now)
    children = opts.pop(FLOW_OPTION)
    return {
        "name": row.name,
        "queueName": row.queue,
        "data": row.payload,
        "opts": opts,
        "children": children,
    }
