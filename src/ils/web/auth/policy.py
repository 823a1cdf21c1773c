"""Least privilege inside a company: the one role-by-action table of the web API, and the
dependency (:func:`permit`) through which every route group enforces it.

Routes name their action, never roles: ``dependencies=[permit("invoices.issue")]`` on a route.
A role the table leaves out gets 403; which company's rows one sees is the other rule
(:func:`ils.web.auth.ownership.get_owned`: another company's ids answer 404). docs/security.md
shows this table as :func:`markdown_table` renders it; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, status

from ils.domain.enums import DocumentEntity, Role
from ils.domain.models.accounts import User
from ils.web.auth.dependencies import CurrentUser

P, A, CA = Role.platform_admin, Role.admin, Role.company_admin
OPTOMETRIST, DISPENSER, LAB, STAFF = (
    Role.optometrist,
    Role.dispenser,
    Role.lab_technician,
    Role.staff,
)
ADMINS = frozenset({P, A, CA})
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class Rule:
    """Who may perform one action, and what the action covers (shown in docs/security.md)."""

    roles: frozenset[Role]
    covers: str


def _rule(roles: Iterable[Role], covers: str) -> Rule:
    return Rule(frozenset(roles), covers)


# Why these sets: money (issuing invoices, prices, suppliers, sending purchase orders) is an
# administrator's decision; clinical records are written by optometrists alone and read by those
# who dispense from them; the lab moves orders through production; the front desk (staff) books
# patients and takes payments but does not read examinations. The queue rows are enforced by the
# queue admin layer, which also limits admin and company_admin to their own company's jobs.
POLICY: dict[str, Rule] = {
    "orders.read": _rule(EVERYONE, "list and read orders (with Rx) and their documents"),
    "orders.create": _rule(EVERYONE, "place an order (a lab keys in the orders it receives)"),
    "orders.edit": _rule(
        ADMINS | {LAB}, "correct an order's details (customer, due date, tray, frame, PD)"
    ),
    "orders.status": _rule(ADMINS | {LAB}, "move an order through production, cancel it"),
    "orders.ship": _rule(ADMINS | {LAB}, "ship an order with its tracking number"),
    "patients.read": _rule(ADMINS | {OPTOMETRIST, DISPENSER, STAFF}, "list and read patients"),
    "patients.write": _rule(ADMINS | {OPTOMETRIST, DISPENSER, STAFF}, "register, edit patients"),
    "examinations.read": _rule(
        ADMINS | {OPTOMETRIST, DISPENSER}, "read examinations, their forms (PDF)"
    ),
    "examinations.record": _rule({OPTOMETRIST}, "record (sign) an examination"),
    "examinations.pdf": _rule(ADMINS | {OPTOMETRIST, DISPENSER}, "render an examination form"),
    "catalog.read": _rule(EVERYONE, "list and read products, stock and suppliers"),
    "products.write": _rule(ADMINS, "create products, change prices and stock"),
    "suppliers.write": _rule(ADMINS, "create and edit suppliers"),
    "invoices.read": _rule(
        ADMINS | {DISPENSER, STAFF}, "read invoices, payments, invoice and receipt PDFs"
    ),
    "invoices.draft": _rule(ADMINS | {DISPENSER, STAFF}, "draft an invoice"),
    "invoices.issue": _rule(ADMINS, "issue an invoice (numbered, PDF queued)"),
    "invoices.send": _rule(ADMINS, "email invoices with their PDFs, one or many (a batch)"),
    "payments.record": _rule(ADMINS | {DISPENSER, STAFF}, "record a payment (receipt queued)"),
    "purchasing.read": _rule(ADMINS | {DISPENSER, LAB}, "list and read purchase orders"),
    "purchasing.draft": _rule(ADMINS | {DISPENSER, LAB}, "draft a purchase order"),
    "purchasing.send": _rule(ADMINS, "send a purchase order to its supplier"),
    "purchasing.receive": _rule(ADMINS | {DISPENSER, LAB}, "receive a purchase order into stock"),
    "marketplace.read": _rule(EVERYONE, "the company directory and this company's connections"),
    "marketplace.connect": _rule(ADMINS, "request, accept, reject connections"),
    "notifications.own": _rule(EVERYONE, "one's own notifications and the live socket"),
    "ai.chat": _rule(EVERYONE, "one's own AI conversations"),
    "ai.forecasts": _rule(
        ADMINS | {DISPENSER, LAB},
        "demand forecasts, reorder suggestions, the company's service level (they buy stock)",
    ),
    "ai.settings": _rule(ADMINS, "set the company's service level for reorder suggestions"),
    "queue.monitor": _rule(ADMINS, "queue stats, health, jobs, outbox, event stream (own company)"),
    "queue.jobs": _rule(
        ADMINS, "retry, promote, cancel, remove jobs, retry all failed (own company's)"
    ),
    "queue.dead_letters": _rule(
        ADMINS, "list, inspect, replay and discard dead letters (own company's)"
    ),
    "queue.operate": _rule(
        {P}, "pause, resume, clean, rate-limit and concurrency overrides, relay the outbox"
    ),
    "batches.read": _rule(ADMINS, "a batch's progress (own company's batches)"),
    "batches.briefings": _rule({P}, "every company's daily briefing as one batch"),
    "schedules.read": _rule(
        ADMINS, "list and read schedules (own company's; platform_admin: all, the platform's)"
    ),
    "schedules.write": _rule(
        ADMINS, "add, change, pause, resume, remove, run now a schedule (the same ones)"
    ),
    "webhooks.manage": _rule(
        ADMINS,
        "webhook endpoints: add, change, remove, rotate secrets, test-send, read and retry "
        "deliveries (own company's; platform_admin: all)",
    ),
    "audit.read": _rule({P}, "the audit log"),
    "events.read": _rule(
        ADMINS, "the event log and catalog (own company's events; platform_admin: all)"
    ),
    "events.replay": _rule({P}, "hand a range of events again to a subscriber"),
}

# A generated document is as private as the row it shows.
DOCUMENT_READ: dict[DocumentEntity, str] = {
    DocumentEntity.order: "orders.read",
    DocumentEntity.invoice: "invoices.read",
    DocumentEntity.payment: "invoices.read",
    DocumentEntity.examination: "examinations.read",
}


def allows(role: Role, action: str) -> bool:
    """Whether ``role`` may perform ``action``; an action not in the table is a KeyError."""
    return role in POLICY[action].roles


def _forbidden(action: str) -> HTTPException:
    names = ", ".join(r.value for r in Role if r in POLICY[action].roles)
    return HTTPException(
        status.HTTP_403_FORBIDDEN, detail=f"{action} needs one of the roles: {names}"
    )


def ensure(user: User, action: str) -> None:
    """Raise 403 unless ``user``'s role may perform ``action`` (for checks that need a row)."""
    if not allows(user.role, action):
        raise _forbidden(action)


def permit(action: str) -> Any:
    """The route dependency for ``action``: 401 without credentials, 403 for a role not allowed.

    Use it in ``dependencies=[...]`` of a route or router; the route still takes ``CurrentUser``
    for itself (FastAPI resolves the user once per request).
    """
    if action not in POLICY:
        raise KeyError(f"unknown action {action!r}: add it to ils.web.auth.policy.POLICY")

    async def dependency(user: CurrentUser) -> User:
        ensure(user, action)
        return user

    dependency.__name__ = f"permit({action})"
    checked: Callable[[User], Awaitable[User]] = dependency
    return Depends(checked)


def markdown_table() -> str:
    """The policy as the Markdown table docs/security.md carries (✓ = allowed)."""
    roles = list(Role)
    head = "| action | what it covers | " + " | ".join(r.value for r in roles) + " |"
    rule = "|---|---|" + "---|" * len(roles)
    rows = [
        f"| `{action}` | {spec.covers} | "
        + " | ".join("✓" if r in spec.roles else "—" for r in roles)
        + " |"
        for action, spec in POLICY.items()
    ]
    return "\n".join([head, rule, *rows])
