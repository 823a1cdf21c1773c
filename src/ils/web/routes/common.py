"""What the company-scoped domain routes share: paging and search query parameters, a page of rows,
the error responses they declare, and the routes that create, read and change one owned row.

:class:`OwnedRows` adds those routes as a hand-written route would have them: the path, the
operation id (from the operation's name), the summary, the role check (the policy action, see
:mod:`ils.web.auth.policy`) and the answers; another company's row is a 404 like a missing one
(:func:`ils.web.auth.get_owned`).
"""

# No ``from __future__ import annotations`` here: the endpoints OwnedRows builds are annotated
# with types known only when it runs, and FastAPI reads those annotations from the function.

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.services import MAX_ID, Paged, Window
from ils.web.auth import CurrentUser, DbSession, get_owned, permit
from ils.web.errors import ErrorOut

ItemT = TypeVar("ItemT")

Limit = Annotated[int, Query(ge=1, le=200, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="rows to skip")]
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"model": ErrorOut}}
CONFLICT: Responses = {409: {"model": ErrorOut}}


def search_query(description: str | None = None) -> Any:
    """The ``q`` parameter of a list: 1 to 100 characters, no NUL."""
    return Query(min_length=1, max_length=100, pattern=r"^[^\x00]*$", description=description)


class Page(BaseModel, Generic[ItemT]):
    """One window of a list: its rows, how many the whole list holds, and the window asked for.
    Subclass it per row type (``class InvoicePage(Page[InvoiceOut])``) to name its schema."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, found: Paged[Any], window: Window, present: Callable[[Any], ItemT]) -> Self:
        """The page of ``found`` for ``window``, each row shown by ``present``."""
        items = [present(row) for row in found.items]
        return cls(items=items, total=found.total, limit=window.limit, offset=window.offset)


def row_id_param(name: str) -> Any:
    """The type of the path parameter ``name`` that holds a row's id."""
    title = name.replace("_", " ").title()
    return Annotated[int, Path(alias=name, title=title, ge=1, le=MAX_ID)]


Present = Callable[[Any], Any]
Create = Callable[[AsyncSession, int, Any], Awaitable[Any]]
Change = Callable[[AsyncSession, Any, Any], Awaitable[Any]]
Endpoint = Callable[..., Awaitable[Any]]
About = tuple[str, str, str]  # the operation's name, its policy action, its summary
Codes = tuple[int, ...]
OK, CREATED = status.HTTP_200_OK, status.HTTP_201_CREATED


@dataclass(frozen=True)
class OwnedRows:
    """The routes of one kind of company-owned row ``model``: ``POST collection``, and ``GET``
    and ``PATCH collection/{id_name}``. Each method takes the operation's name, the action it
    needs and its summary; every route answers ``out`` (its response model). Where a row must be
    unique (a SKU, a name), ``conflicts``: creating and changing one may answer 409."""

    router: APIRouter
    model: type[Any]
    out: Any
    collection: str
    id_name: str
    conflicts: bool = False

    def read(self, name: str, action: str, summary: str, present: Present | None = None) -> None:
        """The row the path names, shown by ``present`` (default: as it is)."""
        model, row_id = self.model, row_id_param(self.id_name)

        async def endpoint(row_id: row_id, user: CurrentUser, session: DbSession) -> Any:  # type: ignore[valid-type]
            row = await get_owned(session, model, row_id, user)
            return row if present is None else present(row)

        self._add("GET", self.item, endpoint, (name, action, summary), (404,))

    def create(self, name: str, action: str, summary: str, body: Any, create: Create) -> None:
        """201 with ``create(session, company_id, body)``: a new row of the user's company."""

        async def endpoint(body: body, user: CurrentUser, session: DbSession) -> Any:
            return await create(session, user.company_id, body)

        conflict = (409,) if self.conflicts else ()
        self._add("POST", self.collection, endpoint, (name, action, summary), conflict, CREATED)

    def update(self, name: str, action: str, summary: str, body: Any, change: Change) -> None:
        """``change(session, row, body)`` on the row the path names."""
        model, row_id = self.model, row_id_param(self.id_name)

        async def endpoint(
            row_id: row_id,  # type: ignore[valid-type]
            body: body,
            user: CurrentUser,
            session: DbSession,
        ) -> Any:
            return await change(session, await get_owned(session, model, row_id, user), body)

        errors = (404, 409) if self.conflicts else (404,)
        self._add("PATCH", self.item, endpoint, (name, action, summary), errors)

    @property
    def item(self) -> str:
        """The path of one row: ``collection/{id_name}``."""
        return f"{self.collection}/{{{self.id_name}}}"

    def _add(
        self, verb: str, path: str, call: Endpoint, about: About, errors: Codes, code: int = OK
    ) -> None:
        name, action, summary = about
        self.router.add_api_route(
            path,
            call,
            methods=[verb],
            name=name,
            response_model=self.out,
            status_code=code,
            responses={error: {"model": ErrorOut} for error in errors},
            summary=summary,
            dependencies=[permit(action)],
        )
