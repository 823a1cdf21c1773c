"""What the company-scoped domain routes share: the paging query parameters, a page of rows, the
error responses they declare, and the routes that list, create, read, change and act on one owned
row.

:class:`OwnedRows` adds those routes as a hand-written route would have them: the path, the
operation id (from the operation's name), the summary, the role check (the policy action, see
:mod:`ils.web.auth.policy`), the quota and the answers; another company's row is a 404 like a
missing one (:func:`ils.web.auth.get_owned`). An action's own work is a function of the row and
an :class:`Acting` (the request's body, transaction and user, and its audit entry).
"""

# No ``from __future__ import annotations`` here: the endpoints OwnedRows builds are annotated
# with types known only when it runs, and FastAPI reads those annotations from the function.

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, NamedTuple, Self, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models.accounts import User
from ils.domain.services import MAX_ID, Paged, Window
from ils.web.auth import CurrentUser, DbSession, get_owned, permit, record_audit
from ils.web.errors import ErrorOut
from ils.web.quota_deps import quota as quota_dependency
from ils.web.quota_settings import QuotaKind

ItemT = TypeVar("ItemT")
BodyT = TypeVar("BodyT")

Limit = Annotated[int, Query(ge=1, le=200, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="rows to skip")]
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"model": ErrorOut}}
CONFLICT: Responses = {409: {"model": ErrorOut}}


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


class Op(NamedTuple):
    """One operation: its name (the stem of its operation id), the policy action it needs and
    its summary."""

    name: str
    action: str
    summary: str


Present = Callable[[Any], Any]
Search = Callable[[AsyncSession, int, Window, Any], Awaitable[Paged[Any]]]
Create = Callable[[AsyncSession, int, Any], Awaitable[Any]]
Change = Callable[[AsyncSession, Any, Any], Awaitable[Any]]
Endpoint = Callable[..., Awaitable[Any]]


def one_row(
    router: APIRouter, verb: str, path: str, permission: Any, *, summary: str, **options: Any
) -> Callable[[Endpoint], Endpoint]:
    """A decorator: ``verb path``, a route on one owned row (404 for a missing one and for
    another company's, see :func:`ils.web.auth.get_owned`), for the roles ``permission`` (a
    :func:`~ils.web.auth.permit`) lets in; ``options`` go to ``APIRouter.api_route``."""
    return router.api_route(
        path,
        methods=[verb],
        dependencies=[permission],
        responses=NOT_FOUND,
        summary=summary,
        **options,
    )


@dataclass(frozen=True)
class Acting(Generic[BodyT]):
    """What an action on one row (:meth:`OwnedRows.action`) works with besides the row: the
    request's ``body`` (None for a route without one), its transaction and user, and the audit
    log, where its entries name the row by its kind (``target``) and id."""

    body: BodyT
    session: AsyncSession
    user: User
    request: Request
    target: str

    async def audit(self, action: str, row_id: int, detail: dict[str, Any]) -> None:
        """Add the audit entry ``action`` about the row ``row_id`` to the transaction."""
        await record_audit(
            self.session, self.user, action, self.target, row_id, detail, self.request
        )


Act = Callable[[Any, Acting[Any]], Awaitable[Any]]


def take_summary(endpoint: Callable[..., Any]) -> str:
    """The summary of a route written in ``endpoint``'s docstring: its first paragraph, taken
    out, so that the rest (if any) is the route's description."""
    summary, _, endpoint.__doc__ = inspect.cleandoc(endpoint.__doc__ or "").partition("\n\n")
    return summary


def body_of(model: Any) -> Callable[..., Any]:
    """The dependency that reads a route's body, a ``model`` (no body when ``model`` is None)."""

    def read(body: model) -> Any:
        return body

    def none() -> None:
        return None

    return none if model is None else read


@dataclass(frozen=True)
class OwnedRows:
    """The routes of one kind of company-owned row ``model``: ``GET`` (a search) and ``POST``
    ``collection``, ``GET`` and ``PATCH`` ``collection/{<row>_id}``, and actions on one row
    (``collection/{<row>_id}/<action>``, :meth:`action`). Each route answers ``out`` (its
    response model) or a page of them, unless it says otherwise.

    ``collection`` ends with the plural of the row's name (``/api/purchase-orders``: the row is
    a ``purchase_order``, its id ``purchase_order_id``). Reading needs the policy action
    ``reads``, creating and changing ``writes``. Where a row must be unique (a SKU, a name),
    ``conflicts``: creating and changing one may answer 409. A route that calls a service
    function is named after it (``create_supplier``); the read route is ``get_<row>``."""

    router: APIRouter
    model: type[Any]
    out: Any
    collection: str
    reads: str
    writes: str = ""
    conflicts: bool = False

    @property
    def row(self) -> str:
        """The row's name: the collection's last segment in the singular, in snake case."""
        return self.collection.rsplit("/", 1)[1].removesuffix("s").replace("-", "_")

    @property
    def id_name(self) -> str:
        """The path parameter of one row's id."""
        return f"{self.row}_id"

    @property
    def item(self) -> str:
        """The path of one row: ``collection/{<row>_id}``."""
        return f"{self.collection}/{{{self.id_name}}}"

    def search(self, page: type[Page[Any]], search: Search, summary: str, doc: str = "") -> None:
        """A ``page`` of ``search(session, company_id, window, given)``: the company's rows that
        ``given`` keeps. The model ``search`` takes as ``given`` is the list's filter: its fields
        are the query parameters after ``limit`` and ``offset``. ``doc`` describes the list."""
        filters = list(inspect.signature(search, eval_str=True).parameters.values())[3]
        given_type, present = Annotated[filters.annotation, Query()], self.out.model_validate

        async def endpoint(
            user: CurrentUser,
            session: DbSession,
            limit: Limit = 50,
            offset: Offset = 0,
            *,
            given: given_type,  # type: ignore[valid-type]
        ) -> Any:
            window = Window(limit, offset)
            found = await search(session, user.company_id, window, given)
            return page.of(found, window, present)

        endpoint.__doc__ = doc
        op = Op(search.__name__, self.reads, summary)
        self._add("GET", self.collection, endpoint, op, response_model=page)

    def read(self, summary: str, present: Present | None = None) -> None:
        """The row the path names, shown by ``present`` (default: as it is)."""
        model, row_id = self.model, row_id_param(self.id_name)
        op = Op(f"get_{self.row}", self.reads, summary)

        async def endpoint(row_id: row_id, user: CurrentUser, session: DbSession) -> Any:  # type: ignore[valid-type]
            row = await get_owned(session, model, row_id, user)
            return row if present is None else present(row)

        self._add("GET", self.item, endpoint, op, responses=NOT_FOUND)

    def create(self, body: Any, create: Create, summary: str) -> None:
        """201 with ``create(session, company_id, body)``: a new row of the user's company."""
        op = Op(create.__name__, self.writes, summary)

        async def endpoint(body: body, user: CurrentUser, session: DbSession) -> Any:
            return await create(session, user.company_id, body)

        conflict = CONFLICT if self.conflicts else None
        self._add("POST", self.collection, endpoint, op, status_code=201, responses=conflict)

    def update(self, body: Any, change: Change, summary: str) -> None:
        """``change(session, row, body)`` on the row the path names."""
        model, row_id = self.model, row_id_param(self.id_name)
        op = Op(change.__name__, self.writes, summary)

        async def endpoint(
            row_id: row_id,  # type: ignore[valid-type]
            body: body,
            user: CurrentUser,
            session: DbSession,
        ) -> Any:
            return await change(session, await get_owned(session, model, row_id, user), body)

        errors = _errors(404, 409) if self.conflicts else NOT_FOUND
        self._add("PATCH", self.item, endpoint, op, responses=errors)

    def action(
        self,
        verb: str,
        path: str,
        action: str,
        out: Any,
        *,
        body: Any = None,
        quota: QuotaKind | None = None,
        status_code: int = 200,
        responses: Responses = NOT_FOUND,
    ) -> Callable[[Act], Act]:
        """A decorator: ``verb collection/{<row>_id}/path`` runs the decorated function on the row
        the path names, with an :class:`Acting` whose body is a ``body`` model (or None), and
        answers ``out``. The function's name is the operation's, the first paragraph of its
        docstring the summary and the rest the description; ``action`` is the policy action,
        ``quota`` the kind of work the request counts as."""
        model, row_id, target = self.model, row_id_param(self.id_name), self.row
        given = Annotated[Any, Depends(body_of(body))]
        options: dict[str, Any] = {"status_code": status_code, "responses": responses}
        if quota is not None:
            options["dependencies"] = [Depends(quota_dependency(quota))]

        def register(act: Act) -> Act:
            async def endpoint(
                row_id: row_id,  # type: ignore[valid-type]
                request: Request,
                user: CurrentUser,
                session: DbSession,
                body: given,
            ) -> Any:
                row = await get_owned(session, model, row_id, user)
                return await act(row, Acting(body, session, user, request, target))

            endpoint.__doc__ = act.__doc__
            op = Op(act.__name__, action, take_summary(endpoint))
            self._add(verb, f"{self.item}/{path}", endpoint, op, response_model=out, **options)
            return act

        return register

    def _add(self, verb: str, path: str, call: Endpoint, op: Op, **options: Any) -> None:
        """Add ``call`` as ``verb path``; ``options`` (the status code, the error responses, a
        response model other than ``out``) go to ``APIRouter.add_api_route``."""
        options = {"response_model": self.out, **options}
        name, action, summary = op
        dependencies = [permit(action), *options.pop("dependencies", ())]
        self.router.add_api_route(
            path,
            call,
            methods=[verb],
            name=name,
            summary=summary,
            dependencies=dependencies,
            **options,
        )


def _errors(*codes: int) -> Responses:
    return {code: {"model": ErrorOut} for code in codes}
