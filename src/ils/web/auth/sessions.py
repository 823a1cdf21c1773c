"""Signed session cookies and their CSRF token: issuing, reading, setting and clearing them.

The session cookie is signed (itsdangerous), not encrypted: it carries the session's secret (the
database keeps only its SHA-256, see :mod:`ils.web.auth.session_store`), a fingerprint of the
user's password hash and the CSRF token. The signature turns away forged cookies before any
database read; whether the session is still alive is the database's answer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ils.domain.models.accounts import User
from ils.web.settings import WebSettings

SESSION_COOKIE = "ils_session"
CSRF_COOKIE = "ils_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_SALT = "ils.web.session"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class SessionData:
    """What a valid cookie says; :attr:`secret_hash` finds the session's row."""

    secret_hash: str
    version: str
    csrf: str


@dataclass(frozen=True)
class IssuedCookie:
    value: str
    csrf: str
    secret_hash: str


class SessionSigner:
    """Issues and reads the session cookies of one app (one secret key, one max age)."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self._key = settings.secret_key.get_secret_value().encode()
        self._serializer = URLSafeTimedSerializer(self._key, salt=SESSION_SALT)

    def version(self, user: User) -> str:
        """A fingerprint of the user's password hash: a password changed by any path (not only
        the password route, which also revokes the rows) ends every session."""
        digest = hmac.new(self._key, user.password_hash.encode(), hashlib.sha256)
        return digest.hexdigest()[:16]

    def issue(self, user: User) -> IssuedCookie:
        """A new session cookie for ``user``: its value, CSRF token and the secret's hash."""
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        value = self._serializer.dumps({"sid": secret, "ver": self.version(user), "csrf": csrf})
        return IssuedCookie(value=value, csrf=csrf, secret_hash=hash_secret(secret))

    def read(self, value: str) -> SessionData | None:
        """The session in a cookie value, or None when it is forged, malformed or too old."""
        try:
            raw: Any = self._serializer.loads(value, max_age=self.settings.session_absolute_s)
        except BadSignature:
            return None
        if not isinstance(raw, dict):
            return None
        sid, ver, csrf = raw.get("sid"), raw.get("ver"), raw.get("csrf")
        if not isinstance(sid, str) or not isinstance(ver, str) or not isinstance(csrf, str):
            return None
        return SessionData(secret_hash=hash_secret(sid), version=ver, csrf=csrf)

    def is_current(self, session: SessionData, user: User) -> bool:
        return hmac.compare_digest(session.version, self.version(user))

    def set_cookies(self, response: Response, issued: IssuedCookie) -> None:
        common: dict[str, Any] = {
            "max_age": self.settings.session_absolute_s,
            "path": "/",
            "secure": self.settings.cookie_secure,
            "samesite": "lax",
        }
        response.set_cookie(SESSION_COOKIE, issued.value, httponly=True, **common)
        # Readable by the page's script, which echoes it in the X-CSRF-Token header.
        response.set_cookie(CSRF_COOKIE, issued.csrf, httponly=False, **common)

    def clear_cookies(self, response: Response) -> None:
        for name, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
            response.delete_cookie(
                name,
                path="/",
                secure=self.settings.cookie_secure,
                httponly=httponly,
                samesite="lax",
            )


def csrf_matches(session: SessionData, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(session.csrf.encode(), header.encode())
