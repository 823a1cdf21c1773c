"""Marketplace routes: the company directory, connection requests and their answers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from ils.domain.enums import CompanyKind, ConnectionStatus
from ils.domain.models.accounts import User
from ils.domain.services import Id
from ils.domain.services import marketplace as service
from ils.web.auth import CurrentUser, DbSession, permit, record_audit, sees_all_companies
from ils.web.quota_deps import EmailQuota
from ils.web.routes.orders import JobRef

router = APIRouter(prefix="/api/marketplace", tags=["marketplace"])
CompanyAdmin = Annotated[User, permit("marketplace.connect")]


class CompanyOut(BaseModel):
    id: int
    name: str
    kind: CompanyKind


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_company_id: Id
    message: Annotated[str, Field(max_length=2000)] | None = None


class ConnectionOut(BaseModel):
    id: int
    requester_company_id: int
    target_company_id: int
    status: ConnectionStatus
    message: str | None
    created_at: dt.datetime
    responded_at: dt.datetime | None


class ConnectionWithJobs(BaseModel):
    connection: ConnectionOut
    jobs: list[JobRef]


def with_jobs(result: service.ConnectionResult) -> ConnectionWithJobs:
    return ConnectionWithJobs(
        connection=ConnectionOut.model_validate(result.connection, from_attributes=True),
        jobs=[JobRef(queue=j.queue, name=j.name, job_id=j.job_id) for j in result.jobs],
    )


@router.get(
    "/companies", summary="Companies one can connect to", dependencies=[permit("marketplace.read")]
)
async def directory(user: CurrentUser, session: DbSession) -> list[CompanyOut]:
    rows = await service.directory(session, user.company_id)
    return [CompanyOut.model_validate(c, from_attributes=True) for c in rows]


@router.get(
    "/connections",
    summary="This company's connections and requests, newest first",
    dependencies=[permit("marketplace.read")],
)
async def list_connections(user: CurrentUser, session: DbSession) -> list[ConnectionOut]:
    rows = await service.connections_of(session, user.company_id)
    return [ConnectionOut.model_validate(c, from_attributes=True) for c in rows]


@router.post(
    "/connections", status_code=status.HTTP_201_CREATED, summary="Ask a company to connect"
)
async def request_connection(
    body: ConnectionIn,
    request: Request,
    user: CompanyAdmin,
    _quota: EmailQuota,
    session: DbSession,
) -> ConnectionWithJobs:
    result = await service.request_connection(session, user, body.target_company_id, body.message)
    detail = {"target_company_id": body.target_company_id}
    await record_audit(
        session, user, "marketplace.requested", "connection", result.connection.id, detail, request
    )
    return with_jobs(result)


async def _answer(
    connection_id: int, accept: bool, request: Request, user: User, session: DbSession
) -> ConnectionWithJobs:
    company = None if sees_all_companies(user) else user.company_id
    connection = await service.visible_connection(session, company, connection_id)
    if connection is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "connection not found")
    result = await service.respond(session, user, connection, accept)
    action = "marketplace.accepted" if accept else "marketplace.rejected"
    await record_audit(session, user, action, "connection", connection.id, {}, request)
    return with_jobs(result)


def _add_answer(verb: str, accept: bool) -> None:
    """``POST /connections/{connection_id}/<verb>``: the operation ``verb``."""

    async def answer(
        connection_id: Id,
        request: Request,
        user: CompanyAdmin,
        _quota: EmailQuota,
        session: DbSession,
    ) -> ConnectionWithJobs:
        return await _answer(connection_id, accept, request, user, session)

    path, summary = f"/connections/{{connection_id}}/{verb}", f"{verb.title()} a connection request"
    router.add_api_route(path, answer, methods=["POST"], name=verb, summary=summary)


_add_answer("accept", True)
_add_answer("reject", False)
