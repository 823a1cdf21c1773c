"""The seed's helper names, one per job type, derived from the declarations.

Each takes the payload's fields as keyword arguments, typed like the payload model, e.g.
``await queue_order_confirmation_email(order_id=7, user_id=3)``. ``.using(session=...,
company_id=..., options=..., producer=...)`` binds how to enqueue: with ``session`` (the
caller's, inside its transaction) the job goes through the transactional outbox and reaches
BullMQ once that transaction commits, through the producer the job system bound to the
session's database; ``company_id`` makes the job that company's (see :mod:`ils.queue.tenancy`);
``options`` are priority, delay, attempts, dedup key, job id.

The flows of :mod:`ils.jobs.flows` have helpers of the same kind (``queue_invoice_email_flow``,
``queue_lab_order_flow``: ``job_id`` of what they return is the root job's); :func:`send_batch`
enqueues many jobs with one completion callback (its ``job_id`` is the batch id).
"""

from __future__ import annotations

from ils.jobs import flows
from ils.jobs.ai.alerts import anomaly_detection
from ils.jobs.ai.briefing import daily_briefing
from ils.jobs.ai.chat.handler import chat_response
from ils.jobs.ai.demand import demand_forecast
from ils.jobs.ai.insights import insight_generation
from ils.jobs.email import handlers as email
from ils.jobs.email.invoice import invoice_email
from ils.jobs.notification import handlers as notification
from ils.jobs.oma import handlers as oma
from ils.jobs.pdf import handlers as pdf
from ils.queue.admin import QueueAdmin
from ils.queue.flows import send_batch, send_flow
from ils.queue.producer import Producer, batch

__all__ = ["batch", "get_queue_stats", "send_batch", "send_flow"]

# ---- email ----------------------------------------------------------------------------------
queue_order_confirmation_email = email.order_confirmation.helper
queue_shipment_notification_email = email.order_shipment.helper
queue_purchase_order_email = email.purchase_order.helper
queue_marketplace_connection_email = email.marketplace_connection.helper
queue_daily_briefing_email = email.daily_briefing.helper
queue_generic_email = email.generic.helper
queue_invoice_email = invoice_email.helper
# ---- pdf ------------------------------------------------------------------------------------
queue_order_sheet_pdf = pdf.order_sheet.helper
queue_invoice_pdf = pdf.invoice.helper
queue_receipt_pdf = pdf.receipt.helper
queue_lab_work_ticket_pdf = pdf.lab_work_ticket.helper
queue_examination_form_pdf = pdf.examination_form.helper
# ---- notification ---------------------------------------------------------------------------
queue_system_notification = notification.system.helper
queue_order_notification = notification.order.helper
queue_ai_insight_notification = notification.ai_insight.helper
queue_marketplace_notification = notification.marketplace.helper
notify_user = notification.system.helper  # one user's notification (a ``system`` one)
# A notification for every active admin of the company, or every active user of one ``role``,
# found when the job runs (a user who gets the role before then is included).
notify_company_admins = notification.fan_out.helper.preset(audience="admins")
notify_company_role = notification.fan_out.helper.preset(audience="role")
queue_batch_summary = notification.batch_summary.helper
# ---- ai -------------------------------------------------------------------------------------
queue_daily_briefing = daily_briefing.helper
queue_demand_forecast = demand_forecast.helper
queue_anomaly_detection = anomaly_detection.helper
queue_insight_generation = insight_generation.helper
queue_chat_response = chat_response.helper
# ---- oma ------------------------------------------------------------------------------------
queue_process_oma_file = oma.process_oma_file.helper
queue_render_oma_trace = oma.render_oma_trace.helper
queue_export_oma_file = oma.export_oma_file.helper
# ---- flows ----------------------------------------------------------------------------------
queue_invoice_email_flow = flows.invoice_email.helper
queue_lab_order_flow = flows.lab_order.helper


async def get_queue_stats(*, producer: Producer) -> dict[str, dict[str, int]]:
    """Counts per state for each of the six queues (the seed's ``getQueueStats``)."""
    return await QueueAdmin(producer.settings, producer.broker).stats()
