"""Request and response bodies of the auth routes."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from ils.domain.models.accounts import Role


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: Role
    company_id: int


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="echo it in the X-CSRF-Token header of state changes")


class MeOut(BaseModel):
    user: UserOut
    auth: str = Field(description="how this request authenticated: session or token")
    csrf_token: str | None = Field(None, description="the session's CSRF token (sessions only)")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="what the token is for")


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="the token's first characters, to recognise it")
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="the token itself: shown this once, never again")
