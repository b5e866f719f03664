"""The SMS gateway's webhook signature (CONTRACTS.md §1, "Webhook signature")."""

from __future__ import annotations

import hashlib
import hmac
import time


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Sign a webhook delivery the way the SMS gateway does.

    Args:
        secret: the shared `SMS_WEBHOOK_SECRET`.
        timestamp: the unix seconds sent in `X-Timestamp`.
        body: the exact bytes of the request body.

    Returns:
        The `X-Signature` header value, `sha256=<hex HMAC-SHA256(secret, "<ts>." + body)>`.
    """
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    """The headers the SMS gateway posts ``body`` with, signed now: each attempt is signed
    afresh, as a real gateway does, so a retry is never stale."""
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json",
        "X-Timestamp": str(timestamp),
        "X-Signature": sign(secret, timestamp, body),
    }
