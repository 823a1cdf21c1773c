"""The documentation's HTTP example (``docs/examples/http_order.py``) runs against a real
``ils serve``: it logs in, creates an order and reads the jobs the order enqueued."""

from __future__ import annotations

from ils.domain.enums import Role
from tests.web.conftest import PASSWORD
from tests.web.dashboard.conftest import IN_SESSION_LOOP, Site, email

pytestmark = IN_SESSION_LOOP


async def test_the_http_example_creates_an_order_and_follows_its_jobs(site: Site):
    from docs.examples import http_order

    seen = await http_order.main(site.url, email(Role.admin), PASSWORD)
    assert seen["order"]
    assert set(seen["jobs"]) >= {"email/order-confirmation", "pdf/order-sheet"}
    assert set(seen["jobs"].values()) <= {"outbox", "waiting", "prioritized", "active", "completed"}
    assert seen["bad"] == [422, ["lines"]]
