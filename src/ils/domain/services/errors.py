"""The errors the domain services raise on purpose: a conflict with the current state, or input
that cannot be accepted, naming its field. The web app maps them to 409 and 422."""

from __future__ import annotations

from ils.queue.errors import IlsJobsError

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
