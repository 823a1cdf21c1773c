"""Standard Webhooks signing with the ``standardwebhooks`` library: new ``whsec_`` secrets, and
the ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers of one request (one
signature per secret, so a receiver holding either secret of a rotation verifies)."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, as ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(
    event_id: str, body: bytes, signing_secrets: Sequence[str], now: dt.datetime
) -> dict[str, str]:
    """The three headers of a request carrying ``body``, signed with each of ``signing_secrets``
    (space-separated ``v1,<signature>`` values, as the specification allows)."""
    from standardwebhooks import Webhook  # at the first delivery, not with the worker

    signatures = [Webhook(s).sign(event_id, now, body) for s in signing_secrets]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
