"""The error hierarchy of ILS Jobs: one root class and children by meaning.

Also the outcomes a handler may choose (retry later, give up, cancel) as exception types.
"""

from __future__ import annotations

from typing import Any


class IlsJobsError(Exception):
    """Root of every error ILS Jobs raises on purpose."""


class ConfigurationError(IlsJobsError):
    """A setting, queue name or option is unknown or invalid (raised at start-up)."""


class FlowAcrossServers(ConfigurationError):
    """A flow's jobs are on queues of different Redis servers (``redis_url`` per queue): BullMQ
    keeps a parent and its children on one server, so the flow is refused, nothing enqueued.

    ``servers`` maps each server (its URL without the password, or "default") to its queues.
    """

    def __init__(self, servers: dict[str, list[str]]) -> None:
        self.servers = servers
        where = "; ".join(f"{', '.join(qs)} on {server}" for server, qs in servers.items())
        super().__init__(
            f"a flow's jobs must share one Redis server, but its queues are on several: {where}"
        )


class BrokerUnavailable(IlsJobsError):
    """Redis did not answer, and the queue's fallback policy is ``raise``."""


class _FieldErrors(IlsJobsError):
    """Data that failed its schema: ``errors`` lists each problem as ``{"field": "order_id",
    "message": "..."}``, and the message is ``<what>: <field>: <message>, ...``."""

    def __init__(self, what: str, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        fields = ", ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(f"{what}: {fields}")

    @property
    def fields(self) -> list[str]:
        return [str(e["field"]) for e in self.errors]


class InvalidJobPayload(_FieldErrors):
    """A job's payload failed validation; nothing was enqueued (``errors``: each problem)."""

    def __init__(self, job: str, errors: list[dict[str, Any]]) -> None:
        self.job = job
        super().__init__(f"invalid payload for {job}", errors)


class PayloadTooLarge(InvalidJobPayload):
    """A job's data is bigger than ``max_payload_bytes``; nothing was enqueued."""

    def __init__(self, job: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        message = f"{size} bytes as JSON, over the limit of {limit} (ILS_MAX_PAYLOAD_BYTES)"
        super().__init__(job, [{"field": "(payload)", "message": message}])


class InvalidEventData(_FieldErrors):
    """A domain event's data failed its type's schema, or its type or version is unknown;
    nothing was recorded (``errors``: each problem)."""

    def __init__(self, event_type: str, errors: list[dict[str, Any]]) -> None:
        self.event_type = event_type
        super().__init__(f"invalid event {event_type}", errors)


class UnknownJobType(IlsJobsError):
    """No job type is registered under that queue and name."""


class JobNotFound(IlsJobsError):
    """No job with that id exists in that queue (it may have been cleaned)."""


class JobStateConflict(IlsJobsError):
    """The action does not apply to the job in its current state (e.g. promoting an active job)."""


class PermissionDenied(IlsJobsError):
    """The caller's role does not allow this action."""


class InlineJobFailed(IlsJobsError):
    """A job run in-process by the ``inline`` fallback raised; its reason is kept here."""

    def __init__(self, job: str, reason: BaseException) -> None:
        self.job = job
        self.reason = reason
        super().__init__(f"{job} failed inline: {reason}")


class JobTimedOut(IlsJobsError):
    """One run of a job outlasted its type's ``timeout_s``; retried like any other failure."""


class WorkerCrashed(IlsJobsError):
    """A queue's worker loop died more often than its restart budget allows."""


# ---- outcomes a handler chooses -------------------------------------------------------------


class JobOutcome(IlsJobsError):
    """Base of the exceptions a handler raises to choose what happens to its job."""


class RetryLater(JobOutcome):
    """Run this job again after ``delay_s`` seconds; does not use up an attempt (a snooze)."""

    def __init__(self, delay_s: float, reason: str = "") -> None:
        if delay_s < 0:
            raise ValueError("delay_s must be >= 0")
        self.delay_s = delay_s
        super().__init__(reason or f"retry in {delay_s}s")


class GiveUp(JobOutcome):
    """Fail this job now, with no further attempts (a permanent error)."""


class JobCancelled(JobOutcome):
    """The job was cancelled (by an admin or by the handler): it ends ``cancelled`` (completed
    on BullMQ, its return value marked), neither failed nor retried nor dead-lettered."""


# ---- the domain services' errors: a conflict with the current state, or input that cannot
# be accepted, naming its field (the web app maps them to 409 and 422)

Loc = tuple[str | int, ...]


class DomainError(IlsJobsError):
    """Base of the errors a domain service raises because of what it was asked to do."""


class Conflict(DomainError):
    """The request clashes with the current state: a duplicate SKU, a purchase order sent twice,
    a payment on an invoice that is not open."""


class Invalid(DomainError):
    """A value of the request cannot be accepted, e.g. a product id of another company.

    ``field`` names it as a path into the request body: ``"supplier_id"`` or
    ``("lines", 0, "product_id")``.
    """

    def __init__(self, field: str | Loc, message: str) -> None:
        self.loc: Loc = (field,) if isinstance(field, str) else tuple(field)
        self.message = message
        super().__init__(f"{'.'.join(str(part) for part in self.loc)}: {message}")

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.loc)
