"""Signing and verifying webhook deliveries: Standard Webhooks 1.0 and the seed's ``X-Proveniq-Signature``.

* Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` (Unix seconds of the attempt) and
  ``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{raw body}")>``,
  one per active secret (two during a rotation overlap). ``key`` is the base64-decoded part of the
  ``whsec_...`` secret.
* Seed 000 section 6.2: ``X-Proveniq-Event`` and ``X-Proveniq-Signature: sha256=<hex HMAC-SHA256(key,
  "{timestamp}.{raw body}")>`` with the same key and timestamp (also sent as ``X-Proveniq-Timestamp``);
  during a rotation the values for each secret are joined with ", ".

Endpoint secrets are derived, never stored: ``whsec_`` + base64(HMAC-SHA256(deployment secret,
"webhook-secret" 0x1F secret_id)), as API secrets are (see ``api/security/secrets.py``). Pure functions:
the caller passes the time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from ledger_core.engine.errors import LedgerError

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
TOLERANCE_SECONDS = 300
_LABEL = b"webhook-secret\x1f"


class WebhookVerificationError(LedgerError):
    """A received webhook failed verification (bad or missing signature, stale timestamp, bad body)."""

    code = "WEBHOOK_VERIFICATION_FAILED"


def derive_endpoint_secret(deployment_secret: bytes, secret_id: str) -> str:
    """The ``whsec_`` secret of ``secret_id`` under the deployment secret (32 bytes of key)."""
    if len(deployment_secret) < 32:
        raise ValueError("the deployment secret must be at least 32 bytes")
    key = hmac.new(deployment_secret, _LABEL + secret_id.encode("utf-8"), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the prefix is optional, as Standard Webhooks allows)."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the webhook secret is not base64") from None


def standard_signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def proveniq_signature(key: bytes, timestamp: int, body: bytes) -> str:
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


def verify_signed(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    raw_body: bytes,
    secret: str,
    *,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """Check one received delivery and return its parsed payload; raise :class:`WebhookVerificationError`.

    Uses ``webhook-signature`` when present (Standard Webhooks), else ``X-Proveniq-Signature``. The
    timestamp must be within ``tolerance`` seconds of ``now`` (seed 000 section 6.2: 5 minutes). Verify
    the raw bytes as received: re-encoding parsed JSON changes them.
    """
    found = _lower(headers)
    key = secret_key(secret)
    stamp = found.get("webhook-timestamp") or found.get("x-proveniq-timestamp")
    if stamp is None or not stamp.strip().isdigit():
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
    try:
        payload = orjson.loads(raw_body)
    except orjson.JSONDecodeError:
        raise WebhookVerificationError("webhook body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookVerificationError("webhook body is not a JSON object")
    return payload
