"""Domain events (docs/guide/concepts.md): an event recorded in the transaction of its change,
handed to a subscriber from its own cursor, once; a change that rolls back records nothing, and
data that breaks the type's schema is refused naming the field.

Run it from the repository's root against the configured database (``ils db upgrade`` first):
``python -m docs.examples.domain_events``. The test suite runs :func:`main` on its own Redis
prefix and database (``tests/test_docs_examples.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from ils.bootstrap import JobSystem
from ils.domain.models.types import utcnow
from ils.errors import InvalidEventData
from ils.events.dispatcher import Dispatcher, Subscriber
from ils.events.envelope import EventEnvelope
from ils.events.record import record


class PriceWatch(Subscriber):
    """Our own subscriber: the price changes, by product (its cursor is keyed by ``name``)."""

    name = "example-price-watch"
    event_types = frozenset({"product.price_changed"})

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def handle(self, envelope: EventEnvelope) -> None:
        self.seen.append((envelope.subject_id, envelope.data["new_price"]))


async def price_changed(system: JobSystem, product_id: int, new_price: str, commit: bool) -> None:
    """The change and its event in one transaction (the product row itself is left out here)."""

    class RolledBack(Exception):
        pass

    try:
        async with system.database.session() as session:
            await record(
                session, "product.price_changed", company_id=7, subject=("product", product_id),
                data={"product_id": product_id, "sku": f"LENS-{product_id}",
                      "old_price": Decimal("10.00"), "new_price": Decimal(new_price)},
                producer=system.producer,  # the dispatch job goes through this transaction too
            )  # fmt: skip
            if not commit:
                raise RolledBack
    except RolledBack:
        pass


async def main(system: JobSystem) -> dict[str, Any]:
    """Record, dispatch twice, and what the subscriber saw."""
    # 1. One committed change and one rolled back: only the first has an event.
    await price_changed(system, 41, "12.50", commit=True)
    await price_changed(system, 42, "99.00", commit=False)

    # 2. A dispatcher hands each subscriber what is new since its cursor; a second pass has
    #    nothing new. (In a deployment the `dispatch-events` job does this for the deployment's
    #    subscribers: the live dashboard and webhooks.)
    watch = PriceWatch()
    dispatcher = Dispatcher(system.database.sessions, settle_s=0.0)
    dispatcher.register(watch)
    later = utcnow() + dt.timedelta(seconds=1)
    first = await dispatcher.run_once(now=later)
    second = await dispatcher.run_once(now=later)

    # 3. Data that breaks the schema: refused, nothing recorded.
    try:
        async with system.database.session() as session:
            await record(session, "product.price_changed", company_id=7, subject=("product", 43),
                         data={"product_id": 43, "sku": "LENS-43"}, dispatch=False)  # fmt: skip
        refused: list[str] = []
    except InvalidEventData as exc:
        refused = sorted(e["field"] for e in exc.errors)

    return {
        "seen": watch.seen,
        "delivered": [first[watch.name].delivered, second[watch.name].delivered],
        "refused": refused,
    }


async def _run() -> None:
    from ils.settings import load_settings

    system = JobSystem(load_settings())
    try:
        print(await main(system))
    finally:
        await system.close()


if __name__ == "__main__":
    asyncio.run(_run())
