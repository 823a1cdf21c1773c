"""The route dependencies that apply the quotas of :mod:`ils.web.quotas` to the current user.

Routes that enqueue work take one parameter per kind (``_quota: PdfQuota``); over quota is a 429.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from ils.domain.models.accounts import User
from ils.web.auth.context import web_context
from ils.web.auth.dependencies import CurrentUser
from ils.web.quota_settings import QuotaKind


def quota(kind: QuotaKind) -> Callable[[Request, User], Awaitable[None]]:
    """A route dependency: count the request against the user's and the company's ``kind``."""

    async def dependency(request: Request, user: CurrentUser) -> None:
        await web_context(request).quotas.hit(kind, user.id, user.company_id)

    dependency.__name__ = f"quota_{kind}"
    return dependency


# One per kind, for route signatures: ``_quota: PdfQuota``.
OrderQuota = Annotated[None, Depends(quota("order"))]
PdfQuota = Annotated[None, Depends(quota("pdf"))]
EmailQuota = Annotated[None, Depends(quota("email"))]
AiQuota = Annotated[None, Depends(quota("ai"))]
BulkQuota = Annotated[None, Depends(quota("bulk"))]
