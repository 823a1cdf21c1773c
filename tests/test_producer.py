"""The job registry, the typed helpers and the producer: every seed job type, validation that
names the field and enqueues nothing, options apart from arguments, and the fallback policies."""

from __future__ import annotations

import datetime as dt
import inspect
from pathlib import Path
from typing import Any

import pytest

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.errors import (
    BrokerUnavailable,
    ConfigurationError,
    InlineJobFailed,
    InvalidJobPayload,
    UnknownJobType,
)
from ils.jobs import build_registry, helpers
from ils.queue.declare import Helper
from ils.queue.embedded import free_port
from ils.queue.producer import EnqueueOptions
from ils.queue.settings import QUEUE_NAMES, Settings
from tests.conftest import make_settings, probe_registry

SEED_TYPES = {
    "email": {"order-confirmation", "order-shipment", "purchase-order", "marketplace-connection",
              "daily-briefing", "generic"},
    "pdf": {"order-sheet", "invoice", "receipt", "lab-work-ticket", "examination-form"},
    "notification": {"system", "order", "ai-insight", "marketplace"},
    "ai": {"daily-briefing", "demand-forecast", "anomaly-detection", "insight-generation",
           "chat-response"},
}  # fmt: skip
# Job types beside the seed's: the company fan-out of notifications (issue 6); the invoice email
# and a batch's summary (flows and batches), the scheduled queue's (schedules: issue 17), the
# oma queue's (issue 18); the event dispatch (issue 19).
ADDED_TYPES = {
    "oma": {"process-oma-file", "render-oma-trace", "export-oma-file"},
    "notification": {"fan-out", "batch-summary", "dispatch-events", "deliver-webhook"},
    "email": {"invoice"},
    "scheduled": {"sync-schedules", "retention", "nightly-anomaly-scan", "failed-jobs-digest",
                  "daily-briefing", "weekly-demand-forecast"},
}  # fmt: skip
# Added types with a helper of their own (the scheduled queue's are run by their schedules).
ADDED_HELPER_TYPES = {("email", "invoice"), ("notification", "batch-summary"),
                      ("oma", "process-oma-file"), ("oma", "render-oma-trace"),
                      ("oma", "export-oma-file")}  # fmt: skip
# Helpers of flows (a tree of jobs): checked in tests/test_flows.py.
FLOW_HELPERS = {"queue_invoice_email_flow", "queue_lab_order_flow"}

TODAY = dt.date(2026, 11, 28)
# helper -> (queue, wire name, business arguments, expected data on the wire)
HELPER_CALLS: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {
    "queue_order_confirmation_email": (
        "email", "order-confirmation", {"order_id": 1, "user_id": 2}, {"orderId": 1, "userId": 2}),
    "queue_shipment_notification_email": (
        "email", "order-shipment",
        {"order_id": 1, "user_id": 2, "tracking_number": "1Z999", "carrier": "UPS"},
        {"orderId": 1, "userId": 2, "trackingNumber": "1Z999", "carrier": "UPS"}),
    "queue_purchase_order_email": (
        "email", "purchase-order", {"purchase_order_id": 5, "supplier_id": 6},
        {"purchaseOrderId": 5, "supplierId": 6}),
    "queue_marketplace_connection_email": (
        "email", "marketplace-connection", {"connection_id": 3, "target_company_id": 4},
        {"connectionId": 3, "targetCompanyId": 4}),
    "queue_daily_briefing_email": (
        "email", "daily-briefing", {"company_id": 1, "user_ids": [2, 3], "date": TODAY},
        {"companyId": 1, "userIds": [2, 3], "date": "2026-11-28"}),
    "queue_generic_email": (
        "email", "generic", {"to": ["a@example.com"], "subject": "Hi", "text": "Hello"},
        {"to": ["a@example.com"], "subject": "Hi", "text": "Hello", "template": "standard"}),
    "queue_order_sheet_pdf": ("pdf", "order-sheet", {"order_id": 9}, {"orderId": 9}),
    "queue_invoice_pdf": ("pdf", "invoice", {"invoice_id": 9}, {"invoiceId": 9}),
    "queue_receipt_pdf": ("pdf", "receipt", {"payment_id": 9}, {"paymentId": 9}),
    "queue_lab_work_ticket_pdf": ("pdf", "lab-work-ticket", {"order_id": 9}, {"orderId": 9}),
    "queue_examination_form_pdf": (
        "pdf", "examination-form", {"examination_id": 9}, {"examinationId": 9}),
    "queue_system_notification": (
        "notification", "system", {"user_id": 1, "title": "T", "message": "M"},
        {"userId": 1, "title": "T", "message": "M", "priority": "medium"}),
    "queue_order_notification": (
        "notification", "order", {"user_id": 1, "order_id": 2, "status": "shipped"},
        {"userId": 1, "orderId": 2, "status": "shipped"}),
    "queue_ai_insight_notification": (
        "notification", "ai-insight",
        {"user_id": 1, "title": "T", "message": "M", "priority": "high"},
        {"userId": 1, "title": "T", "message": "M", "priority": "high"}),
    "queue_marketplace_notification": (
        "notification", "marketplace", {"user_id": 1, "connection_id": 2, "event": "accepted"},
        {"userId": 1, "connectionId": 2, "event": "accepted"}),
    "queue_daily_briefing": (
        "ai", "daily-briefing", {"company_id": 1, "date": TODAY},
        {"companyId": 1, "date": "2026-11-28", "userIds": []}),
    "queue_demand_forecast": (
        "ai", "demand-forecast", {"company_id": 1, "horizon_days": 30},
        {"companyId": 1, "horizonDays": 30}),
    "queue_anomaly_detection": (
        "ai", "anomaly-detection", {"company_id": 1},
        {"companyId": 1, "metric": "all", "range": "daily", "lookbackDays": 90}),
    "queue_insight_generation": (
        "ai", "insight-generation", {"company_id": 1, "type": "patient-care", "period": "week"},
        {"companyId": 1, "type": "patient-care", "period": "week"}),
    "queue_chat_response": (
        "ai", "chat-response",
        {"conversation_id": 1, "user_id": 2, "company_id": 3, "message": "Stock of SV lenses?"},
        {"conversationId": 1, "userId": 2, "companyId": 3, "message": "Stock of SV lenses?"}),
    "queue_invoice_email": ("email", "invoice", {"invoice_id": 4}, {"invoiceId": 4}),
    "queue_batch_summary": (
        "notification", "batch-summary", {"title": "Resend"}, {"title": "Resend"}),
    "queue_process_oma_file": (
        "oma", "process-oma-file", {"company_id": 1, "order_id": 2, "content": "Sk9CPTE="},
        {"companyId": 1, "orderId": 2, "content": "Sk9CPTE="}),
    "queue_render_oma_trace": ("oma", "render-oma-trace", {"oma_file_id": 3}, {"omaFileId": 3}),
    "queue_export_oma_file": (
        "oma", "export-oma-file", {"company_id": 1, "order_id": 2},
        {"companyId": 1, "orderId": 2, "deliver": "download"}),
}  # fmt: skip


def test_every_seed_job_type_is_registered_on_its_queue():
    registry = build_registry()
    for queue in QUEUE_NAMES:
        expected = SEED_TYPES.get(queue, set()) | ADDED_TYPES.get(queue, set())
        assert {t.name for t in registry.for_queue(queue)} == expected
    assert len(registry) == 34
    for job_type in registry:
        assert job_type.name == job_type.name.lower() and "_" not in job_type.name
        assert job_type.handler is not None, job_type.key


def test_there_is_one_helper_per_job_type_and_it_is_typed():
    public = {
        name for name, fn in inspect.getmembers(helpers, lambda v: isinstance(v, Helper))
        if name.startswith("queue_") and name not in FLOW_HELPERS
    }  # fmt: skip
    assert public == set(HELPER_CALLS)
    covered = {(q, n) for q, n, _, _ in HELPER_CALLS.values()}
    seed = {(q, n) for q, names in SEED_TYPES.items() for n in names}
    assert covered == seed | ADDED_HELPER_TYPES
    for name in public:
        helper: Helper[Any] = getattr(helpers, name)
        # The helper's arguments are its payload model's fields, each annotated.
        model = helper.job_def.job_type.payload
        assert model is helper.job_def.payload
        assert all(f.annotation is not None for f in model.model_fields.values())
        sig = inspect.signature(helper.using)
        assert sig.parameters["options"].kind is inspect.Parameter.KEYWORD_ONLY
        assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values())


async def test_helpers_take_the_payload_by_name(system: JobSystem):
    with pytest.raises(TypeError, match="by name"):
        await helpers.queue_invoice_pdf.using(producer=system.producer)(9)  # type: ignore[call-arg]


async def test_helpers_with_a_session_use_the_producer_bound_to_its_database(
    settings: Settings, db: Database
):
    system = JobSystem(settings, probe_registry(), database=db)
    try:
        async with db.session() as session:
            job = await helpers.queue_invoice_pdf.using(session=session)(invoice_id=1)
        assert job.mode == "outbox"
        assert await system.outbox.get(job.job_id) is not None
    finally:
        await system.close()
    async with db.session() as session:  # a closed system's producer is no longer bound
        with pytest.raises(ConfigurationError, match="no producer to enqueue with"):
            await helpers.queue_invoice_pdf.using(session=session)(invoice_id=1)


@pytest.mark.parametrize("helper", sorted(HELPER_CALLS))
async def test_each_helper_enqueues_its_job_with_camel_case_data(system: JobSystem, helper: str):
    queue, name, kwargs, wire = HELPER_CALLS[helper]
    job = await getattr(helpers, helper).using(producer=system.producer)(**kwargs)
    assert (job.queue, job.name, job.mode) == (queue, name, "queued")
    view = await system.admin.get_job(queue, job.job_id)
    assert view.name == name
    assert view.data == wire
    registered = system.registry.get(queue, name)
    assert view.attempts == (registered.attempts or system.settings.queue(queue).attempts)


async def test_helpers_use_the_producer_passed(system: JobSystem):
    with pytest.raises(ConfigurationError, match="no producer to enqueue with"):
        await helpers.queue_invoice_pdf(invoice_id=1)
    job = await helpers.queue_invoice_pdf.using(producer=system.producer)(invoice_id=1)
    assert job.mode == "queued"
    stats = await helpers.get_queue_stats(producer=system.producer)
    assert set(stats) == set(QUEUE_NAMES)
    assert stats["pdf"]["prioritized"] == 1  # invoices carry priority 2


@pytest.mark.parametrize(
    ("helper", "kwargs", "field"),
    [
        ("queue_order_confirmation_email", {"order_id": -1, "user_id": 2}, "order_id"),
        ("queue_order_confirmation_email", {"order_id": 1, "user_id": "bob"}, "user_id"),
        ("queue_generic_email", {"to": ["not-an-address"], "subject": "s", "text": "t"}, "to.0"),
        ("queue_generic_email", {"to": ["a@example.com"], "subject": "", "text": "t"}, "subject"),
        ("queue_marketplace_notification", {"user_id": 1, "connection_id": 2, "event": "x"},
         "event"),
        ("queue_demand_forecast", {"company_id": 1, "horizon_days": 0}, "horizon_days"),
    ],
)  # fmt: skip
async def test_invalid_arguments_raise_naming_the_field_and_enqueue_nothing(
    system: JobSystem, helper: str, kwargs: dict[str, Any], field: str
):
    with pytest.raises(InvalidJobPayload) as err:
        await getattr(helpers, helper)(**kwargs, producer=system.producer)
    assert field in err.value.fields
    assert field in str(err.value)
    stats = await system.admin.stats()
    assert all(n == 0 for counts in stats.values() for n in counts.values())


async def test_unknown_fields_and_types_are_refused(system: JobSystem):
    with pytest.raises(InvalidJobPayload) as err:
        await system.producer.enqueue("pdf", "invoice", {"invoiceId": 1, "colour": "red"})
    assert err.value.fields == ["colour"]
    with pytest.raises(UnknownJobType, match="did you mean 'invoice'"):
        await system.producer.enqueue("pdf", "invoices", {"invoiceId": 1})
    with pytest.raises(ConfigurationError, match="did you mean 'pdf'"):
        await system.producer.enqueue("pfd", "invoice", {"invoiceId": 1})


async def test_options_set_priority_delay_attempts_job_id_and_dedup(system: JobSystem):
    opts = EnqueueOptions(priority=7, delay_s=60, attempts=9, job_id="order-42-sheet")
    sheet = helpers.queue_order_sheet_pdf.using(options=opts, producer=system.producer)
    job = await sheet(order_id=42)
    assert job.job_id == "order-42-sheet"
    again = await sheet(order_id=42)
    assert again.job_id == "order-42-sheet"  # same id: BullMQ keeps one job
    stored = await system.producer.queue("pdf").getJob("order-42-sheet")
    assert stored.opts["priority"] == 7 and stored.opts["attempts"] == 9
    assert stored.opts["delay"] == 60_000
    assert (await system.admin.stats(["pdf"]))["pdf"]["delayed"] == 1

    dedup = EnqueueOptions(dedup_key="briefing-1-2026-11-28")
    briefing = helpers.queue_daily_briefing.using(options=dedup, producer=system.producer)
    a = await briefing(company_id=1, date=TODAY)
    b = await briefing(company_id=1, date=TODAY)
    assert a.job_id == b.job_id
    counts = (await system.admin.stats(["ai"]))["ai"]
    assert counts["prioritized"] + counts["waiting"] == 1


def test_bad_options_are_refused_naming_the_option():
    with pytest.raises(ValueError, match="priority"):
        EnqueueOptions(priority=0)
    with pytest.raises(ValueError, match="job_id"):
        EnqueueOptions(job_id="has:colon")
    with pytest.raises(ValueError, match="delay_s"):
        EnqueueOptions(delay_s=-1)
    for unsafe in ("../x", "a/b", "a\\b", ".."):
        with pytest.raises(ValueError, match="job_id"):
            EnqueueOptions(job_id=unsafe)


# ---- Redis unreachable: the fallback policies ------------------------------------------------


@pytest.fixture
async def offline(tmp_path: Path):
    """A system whose Redis URL points at a port where nothing listens; email and pdf run inline
    (their default is ``spool``, tested in ``test_outbox.py``)."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    inline = {"ILS_QUEUE_EMAIL_FALLBACK": "inline", "ILS_QUEUE_PDF_FALLBACK": "inline"}
    settings = make_settings(url, "offline", tmp_path, env=inline)
    js = JobSystem(settings, probe_registry())
    yield js
    await js.close()


async def test_inline_policy_runs_the_handler_now_when_redis_is_down(offline: JobSystem):
    ran: list[int] = []

    def handler(payload: Any, ctx: Any) -> str:
        ran.append(payload.order_id)
        assert ctx.inline
        return "sent"

    offline.registry.set_handler("email", "order-confirmation", handler)
    job = await helpers.queue_order_confirmation_email.using(producer=offline.producer)(
        order_id=5, user_id=6
    )
    assert job.mode == "inline"
    assert job.result == "sent"
    assert ran == [5]


async def test_inline_policy_surfaces_a_failing_or_missing_handler(offline: JobSystem):
    with pytest.raises(InlineJobFailed, match="no handler for pdf/test-unhandled"):
        await offline.producer.enqueue("pdf", "test-unhandled", {})


async def test_raise_policy_raises_broker_unavailable_fast(offline: JobSystem):
    assert offline.settings.queue("ai").fallback == "raise"
    with pytest.raises(BrokerUnavailable, match="unreachable"):
        await helpers.queue_demand_forecast.using(producer=offline.producer)(company_id=1)


async def test_invalid_payload_is_refused_even_when_redis_is_down(offline: JobSystem):
    with pytest.raises(InvalidJobPayload):
        await helpers.queue_order_confirmation_email.using(producer=offline.producer)(
            order_id=0, user_id=1
        )


def test_the_probe_registry_adds_probe_types_without_touching_the_catalogue():
    registry = probe_registry()
    assert registry.get("oma", "test-probe").handler is not None
    with pytest.raises(ConfigurationError, match="registered twice"):
        registry.add(registry.get("oma", "test-probe"))
