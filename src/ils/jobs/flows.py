"""The ILS flows, declared once with :func:`ils.queue.flows.flow`: jobs that wait for others.

- ``invoice-email``: the invoice's PDF, then the invoice emailed to its customer with that PDF
  attached; a PDF that fails for good fails the email (no invoice goes out without it).
- ``lab-order``: an order's sheet and lab work ticket (two PDFs, rendered side by side), then the
  company's lab technicians told the order is ready; skipped when a PDF failed for good (the
  failure is the job to look at, not a notice of a pack that is not there).

Their helpers are in :mod:`ils.jobs.helpers` (``queue_invoice_email_flow``,
``queue_lab_order_flow``); like the job helpers they enqueue through the caller's outbox when
bound to a session. :func:`check_servers` refuses, at start, queues placed on Redis servers so that
a flow's jobs would be split across them (BullMQ keeps a flow on one server).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import EmailStr, Field

from ils.domain.models import Role
from ils.errors import ConfigurationError, FlowAcrossServers
from ils.jobs.email.invoice import invoice_email as email_invoice
from ils.jobs.notification import handlers as notification
from ils.jobs.payloads import Id
from ils.jobs.pdf import handlers as pdf
from ils.queue.declare import Step
from ils.queue.flow_store import server_of
from ils.queue.flows import flow, flows_in
from ils.queue.payload_example import example_data
from ils.queue.registry import Payload, Personal
from ils.queue.settings import Settings


class InvoiceEmailFlow(Payload):
    invoice_id: Id
    to: Annotated[list[EmailStr], Personal()] | None = Field(
        None, max_length=10, description="the addresses; by default the order's patient's email"
    )


class LabOrderFlow(Payload):
    order_id: Id
    company_id: Id = Field(description="the company whose lab technicians are told")


@flow(InvoiceEmailFlow, name="invoice-email",
      description="the invoice's PDF, then the invoice emailed with it attached")  # fmt: skip
def invoice_email(p: InvoiceEmailFlow) -> Step:
    return email_invoice.step(invoice_id=p.invoice_id, to=p.to).after(
        pdf.invoice.step(invoice_id=p.invoice_id), on_child_failure="fail"
    )


@flow(LabOrderFlow, name="lab-order",
      description="order sheet and lab work ticket PDFs, then the lab told")  # fmt: skip
def lab_order(p: LabOrderFlow) -> Step:
    notice = notification.fan_out.step(
        company_id=p.company_id, audience="role", role=Role.lab_technician, kind="order",
        title="Order ready for the lab", priority="high", action_url=f"/orders/{p.order_id}",
        message=f"The order sheet and lab work ticket of order {p.order_id} are ready.",
    )  # fmt: skip
    return notice.after(
        pdf.order_sheet.step(order_id=p.order_id),
        pdf.lab_work_ticket.step(order_id=p.order_id),
        on_child_failure="skip",
    )


def _queues(step: Step) -> set[str]:
    return {step.job_type.queue}.union(*(_queues(child) for child in step.children))


def check_servers(settings: Settings) -> None:
    """A :class:`ConfigurationError` naming the flow when ``settings`` put the queues of one of
    these flows on different Redis servers (``redis_url`` per queue): every such flow would be
    refused when enqueued, so the deployment is refused when it starts instead."""
    for declared in flows_in(globals()):
        model: type[Payload] = declared.payload  # type: ignore[assignment]
        root = declared.steps(example_data(model.model_json_schema()))
        servers: dict[str, list[str]] = {}
        for queue in sorted(_queues(root)):
            servers.setdefault(server_of(settings, queue), []).append(queue)
        if len(servers) > 1:
            raise ConfigurationError(
                f"the {declared.name!r} flow could never be enqueued: "
                f"{FlowAcrossServers(servers)}; put its queues on one server (on a Redis "
                "Cluster: give them one cluster_tag, e.g. ILS_QUEUE_PDF_CLUSTER_TAG=email)"
            )
