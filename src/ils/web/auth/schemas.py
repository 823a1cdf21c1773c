"""Request and response bodies of the auth routes."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ils.domain.enums import Role
from ils.domain.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


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


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    old_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description=f"at least {MIN_PASSWORD_LENGTH} characters; a passphrase is best",
    )

    @field_validator("new_password")
    @classmethod
    def _not_the_old_one(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("old_password"):
            raise ValueError("must differ from the old password")
        if not value.strip():
            raise ValueError("must not be only spaces")
        return value


class PasswordChanged(BaseModel):
    sessions_revoked: int = Field(description="sessions ended, the one making the change included")
    tokens_revoked: int = Field(description="API tokens revoked")
    csrf_token: str | None = Field(
        None, description="the new session's CSRF token (when the change came from a session)"
    )


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
    expires_at: dt.datetime = Field(
        description="when it stops working unless used before (idle limit), never later than "
        "its absolute limit"
    )
    revoked_at: dt.datetime | None
    active: bool = Field(description="neither revoked nor expired")


class TokenCreated(TokenOut):
    token: str = Field(description="the token itself: shown this once, never again")


class SessionOut(BaseModel):
    id: int
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime = Field(description="when it ends unless used before")
    ip: str | None
    user_agent: str | None
    current: bool = Field(description="the session this request came with")
