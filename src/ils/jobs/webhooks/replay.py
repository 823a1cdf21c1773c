"""Replaying events to one webhook endpoint: the subscriber that ``POST /api/events/replay`` and
``ils events replay`` take for the name ``webhook:<endpoint id>``. Each event of the range that
the endpoint subscribes to is delivered again through the caller's transaction (the outbox), a
new job under the same ``webhook-id`` (the event id), so a receiver that keeps the ids it has
seen takes each once however often a range is replayed.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ils.errors import ConfigurationError
from ils.events.dispatcher import Dispatcher, Subscriber
from ils.events.log import EventFilter
from ils.jobs.webhooks.fanout import enqueue_deliveries

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.events.envelope import EventEnvelope

PREFIX = "webhook:"


class EndpointReplay(Subscriber):
    """One endpoint as a replay's subscriber (never registered with the dispatcher)."""

    def __init__(
        self, session: AsyncSession, endpoint_id: int, company_id: int, event_types: list[str]
    ) -> None:
        self.name = f"{PREFIX}{endpoint_id}"
        self.event_types = frozenset(event_types)
        self.session = session
        self.endpoint_id = endpoint_id
        self.company_id = company_id

    async def handle(self, envelope: EventEnvelope) -> None:
        await enqueue_deliveries(self.session, envelope, self.endpoint_id, replay=True)


async def endpoint_replay(session: AsyncSession, name: str) -> EndpointReplay | None:
    """The replay subscriber ``name`` names (``webhook:<endpoint id>``), None for another name;
    :class:`ConfigurationError` for an endpoint that does not exist or is disabled."""
    if not name.startswith(PREFIX):
        return None
    from ils.domain.models import WebhookEndpoint

    raw = name[len(PREFIX) :]
    endpoint = await session.get(WebhookEndpoint, int(raw)) if raw.isdigit() else None
    if endpoint is None:
        raise ConfigurationError(f"no webhook endpoint {raw!r}")
    if not endpoint.enabled:
        raise ConfigurationError(f"webhook endpoint {endpoint.id} is disabled: enable it first")
    return EndpointReplay(session, endpoint.id, endpoint.company_id, list(endpoint.event_types))


async def replay_target(session: AsyncSession, dispatcher: Dispatcher, name: str) -> Subscriber:
    """The subscriber a replay names: ``webhook:<endpoint id>`` or a registered subscriber's name
    (:class:`ConfigurationError`, with "did you mean", for neither)."""
    found = await endpoint_replay(session, name)
    return found if found is not None else dispatcher.subscriber(name)


def scoped(target: Subscriber, which: EventFilter) -> EventFilter:
    """``which`` kept to the endpoint's company when ``target`` is an endpoint: a company's
    receiver never gets another company's events (:class:`ConfigurationError` when ``which``
    names another company)."""
    if not isinstance(target, EndpointReplay):
        return which
    if which.company_id is not None and which.company_id != target.company_id:
        raise ConfigurationError(
            f"{target.name} belongs to company {target.company_id}, not {which.company_id}"
        )
    return dataclasses.replace(which, company_id=target.company_id)
