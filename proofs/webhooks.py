"""The webhook signature scheme, shared by the server (which signs deliveries) and the SDK (which verifies them).

* Standard Webhooks 1.0: ``webhook-id``, ``webhook-timestamp`` (Unix seconds of the attempt) and
  ``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{raw body}")>``,
  one per active secret (two during a rotation overlap). ``key`` is the base64-decoded part of the
  ``whsec_...`` secret.
* Seed 000 section 6.2: ``X-Proveniq-Event`` and ``X-Proveniq-Signature: sha256=<hex HMAC-SHA256(key,
  "{timestamp}.{raw body}")>`` with the same key and timestamp (also sent as ``X-Proveniq-Timestamp``);
  during a rotation the values for each secret are joined with ", ".

Like the rest of ``proofs``, this module depends on nothing of ours (standard library only): it is
evidence a partner checks offline, like an inclusion proof, and sits below ``ledger_core``. The
server's dispatcher signs with :func:`signed_headers`, the partner SDK (which ships ``proofs``) checks
with :func:`verify_signature`, so both compute the same bytes from the same code. Pure functions: the
caller passes the time. Deriving endpoint secrets is the server's business
(``ledger_core.webhooks.signatures``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "SECRET_PREFIX",
    "TOLERANCE_SECONDS",
    "WebhookVerificationError",
    "proveniq_signature",
    "secret_key",
    "signed_headers",
    "standard_signature",
    "verify_signature",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
TOLERANCE_SECONDS = 300


class WebhookVerificationError(Exception):
    """A received webhook failed verification (bad or missing signature, stale timestamp, bad body).

    Shaped like the ledger's errors: ``code`` for machines, ``str()`` for people, ``details`` as evidence.
    """

    code = "WEBHOOK_VERIFICATION_FAILED"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details


_TIMESTAMP = re.compile(r"[0-9]{1,12}")
"""Unix seconds as ASCII digits; 12 digits (year 33658) keep ``int()`` and float arithmetic in range."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the prefix is optional, as Standard Webhooks allows)."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the webhook secret is not base64") from None


def standard_signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """One Standard Webhooks ``webhook-signature`` entry: ``v1,`` + base64 HMAC of ``{id}.{timestamp}.{body}``."""
    signed = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def proveniq_signature(key: bytes, timestamp: int, body: bytes) -> str:
    """One seed ``X-Proveniq-Signature`` value: ``sha256=`` + hex HMAC of ``{timestamp}.{body}``."""
    return "sha256=" + hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(
    keys: Sequence[bytes], message_id: str, event_type: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Every header of one delivery attempt, signed with each of ``keys`` (newest first)."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard_signature(k, message_id, timestamp, body) for k in keys),
        "x-proveniq-event": event_type,
        "x-proveniq-timestamp": str(timestamp),
        "x-proveniq-signature": ", ".join(proveniq_signature(k, timestamp, body) for k in keys),
    }


def _lower(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(name).lower(): str(value) for name, value in items}


def verify_signature(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    raw_body: bytes,
    secret: str,
    *,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Check one received delivery's timestamp and signature; raise :class:`WebhookVerificationError`.

    Uses ``webhook-signature`` when present (Standard Webhooks), else ``X-Proveniq-Signature``. The
    timestamp must be within ``tolerance`` seconds of ``now`` (seed 000 section 6.2: 5 minutes). Verify
    the raw bytes as received: re-encoding parsed JSON changes them. Parsing the body is the caller's.
    """
    found = _lower(headers)
    key = secret_key(secret)
    stamp = found.get("webhook-timestamp") or found.get("x-proveniq-timestamp")
    if stamp is None or not _TIMESTAMP.fullmatch(stamp.strip()):  # ASCII digits only: "²".isdigit() is true
        raise WebhookVerificationError("missing or malformed webhook timestamp")
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance:
        raise WebhookVerificationError("webhook timestamp outside the tolerance", timestamp=timestamp)
    if "webhook-signature" in found:
        message_id = found.get("webhook-id")
        if not message_id:
            raise WebhookVerificationError("missing webhook-id")
        expected = standard_signature(key, message_id, timestamp, raw_body)
        offered = found["webhook-signature"].split()
    elif "x-proveniq-signature" in found:
        expected = proveniq_signature(key, timestamp, raw_body)
        offered = [part.strip() for part in found["x-proveniq-signature"].split(",")]
    else:
        raise WebhookVerificationError("missing webhook signature")
    if not any(hmac.compare_digest(expected.encode(), part.encode()) for part in offered):
        raise WebhookVerificationError("no webhook signature matches")
