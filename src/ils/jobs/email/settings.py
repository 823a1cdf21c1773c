"""Settings of the email worker: which transport, the SMTP server and sender, the app's public URL.

The values come from the root settings' ``mail`` section (``ILS_MAIL_*``/``ILS_SMTP_*``, ``[mail]``
in ils.toml), validated by :meth:`ils.settings.IlsSettings.mail_settings` at start-up, never at
the first email.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ils.env_settings import http_url

DEFAULT_PORTS = {"starttls": 587, "implicit": 465, "none": 25}


class MailSettings(BaseModel):
    """Everything the email handlers need; ``mail_dir`` is where the file transport writes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    transport: Literal["file", "smtp"] = "file"
    sender: str = Field("ILS <no-reply@example.com>", description="the From header")
    smtp_host: str | None = None
    smtp_port: int | None = Field(None, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["starttls", "implicit", "none"] = "starttls"
    smtp_ca_file: Path | None = Field(
        None, description="PEM bundle of the CAs to trust instead of the system's (a private CA)"
    )
    smtp_timeout_s: float = Field(30.0, gt=0, le=600)
    smtp_connections: int = Field(
        5, ge=1, le=50, description="SMTP connections a worker process keeps open at most"
    )
    public_url: str = "http://127.0.0.1:8000"
    mail_dir: Path = Path("var/mail")

    @field_validator("sender")
    @classmethod
    def _valid_sender(cls, value: str) -> str:
        address = value.rsplit("<", 1)[-1].rstrip(">").strip()
        try:
            validate_email(address, check_deliverability=False, test_environment=True)
        except EmailNotValidError as exc:
            raise ValueError(f"not an email address: {exc}") from exc
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("smtp_ca_file")
    @classmethod
    def _loadable_bundle(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        try:
            ssl.create_default_context(cafile=str(value))
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load CA bundle {str(value)!r}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _smtp_complete(self) -> MailSettings:
        if self.transport == "smtp" and not self.smtp_host:
            raise ValueError("ILS_MAIL_TRANSPORT=smtp needs ILS_SMTP_HOST")
        if (self.smtp_user is None) != (self.smtp_password is None):
            raise ValueError("ILS_SMTP_USER and ILS_SMTP_PASSWORD go together")
        if self.smtp_ca_file is not None and self.smtp_tls == "none":
            raise ValueError("ILS_SMTP_CA_FILE needs ILS_SMTP_TLS=starttls or implicit")
        return self

    def tls_context(self) -> ssl.SSLContext | None:
        """The context that verifies the server: the system's CAs, or only ``smtp_ca_file``'s."""
        if self.smtp_tls == "none":
            return None
        cafile = str(self.smtp_ca_file) if self.smtp_ca_file else None
        return ssl.create_default_context(cafile=cafile)

    @property
    def port(self) -> int:
        return self.smtp_port or DEFAULT_PORTS[self.smtp_tls]
