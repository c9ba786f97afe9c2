"""Webhook signatures: Standard Webhooks as the third-party package reads them, the seed's header, rotation,
the 5-minute timestamp window, and refusal of anything altered."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from api.client.webhooks import WebhookVerificationError, verify_webhook
from ledger_core.webhooks.signatures import derive_endpoint_secret
from proofs.webhooks import secret_key, signed_headers

SECRET = derive_endpoint_secret(b"k" * 32, "whs_1")
OTHER = derive_endpoint_secret(b"k" * 32, "whs_2")
BODY = b'{"id":"msg_1","type":"claim.verified","event":"claim.verified","data":{}}'


def headers(secrets: list[str], body: bytes = BODY, timestamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return signed_headers([secret_key(s) for s in secrets], "msg_1", "claim.verified", stamp, body)


@given(body=st.binary(max_size=2000), message_id=st.from_regex(r"msg_[a-z0-9]{1,40}", fullmatch=True))
def test_standardwebhooks_verifies_what_we_sign(body: bytes, message_id: str) -> None:
    """Any body and id we sign verifies with the reference package (it parses JSON, so wrap the bytes)."""
    payload = b'{"raw":"' + body.hex().encode() + b'"}'
    now = int(time.time())
    signed = signed_headers([secret_key(SECRET)], message_id, "audit.alert", now, payload)
    assert standardwebhooks.Webhook(SECRET).verify(payload, signed) == {"raw": body.hex()}


def test_secret_is_whsec_base64_of_32_bytes_and_stable() -> None:
    """The derived secret has the Standard Webhooks form and depends on the deployment secret and id."""
    assert SECRET.startswith("whsec_")
    assert len(secret_key(SECRET)) == 32
    assert derive_endpoint_secret(b"k" * 32, "whs_1") == SECRET
    assert derive_endpoint_secret(b"j" * 32, "whs_1") != SECRET
    assert OTHER != SECRET


def test_seed_signature_header_alone_verifies() -> None:
    """X-Proveniq-Signature (hex HMAC of "{timestamp}.{body}") is enough for our helper."""
    seed_only = {k: v for k, v in headers([SECRET]).items() if k.startswith("x-proveniq")}
    assert seed_only["x-proveniq-signature"].startswith("sha256=")
    assert verify_webhook(seed_only, BODY, SECRET)["id"] == "msg_1"


def test_rotation_overlap_carries_both_signatures() -> None:
    """During a rotation both secrets verify, with either header scheme."""
    both = headers([OTHER, SECRET])
    assert len(both["webhook-signature"].split()) == 2
    for secret in (SECRET, OTHER):
        standardwebhooks.Webhook(secret).verify(BODY, both)
        seed_only = {k: v for k, v in both.items() if k.startswith("x-proveniq")}
        verify_webhook(seed_only, BODY, secret)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": BODY + b" "}, "no webhook signature matches"),
        ({"secret": OTHER}, "no webhook signature matches"),
        ({"offset": -301}, "outside the tolerance"),
        ({"offset": 301}, "outside the tolerance"),
    ],
)
def test_altered_or_stale_deliveries_are_refused(change: dict[str, object], reason: str) -> None:
    """A changed body, the wrong secret or a timestamp more than 5 minutes off is refused."""
    now = int(time.time())
    signed = headers([SECRET], timestamp=now + int(change.get("offset", 0)))  # type: ignore[call-overload]
    body = change.get("body", BODY)
    secret = change.get("secret", SECRET)
    with pytest.raises(WebhookVerificationError, match=reason):
        verify_webhook(signed, body, secret, now=now)  # type: ignore[arg-type]


def test_missing_headers_are_refused() -> None:
    """No timestamp or no signature: refused, never accepted by default."""
    signed = headers([SECRET])
    with pytest.raises(WebhookVerificationError, match="timestamp"):
        verify_webhook({"webhook-signature": signed["webhook-signature"]}, BODY, SECRET)
    with pytest.raises(WebhookVerificationError, match="missing webhook signature"):
        verify_webhook({"webhook-timestamp": signed["webhook-timestamp"]}, BODY, SECRET)


def test_seed_header_is_hex_hmac_of_timestamp_dot_body() -> None:
    """X-Proveniq-Signature is exactly ``sha256=`` + hex HMAC-SHA256(key, "{timestamp}.{raw body}")."""
    signed = headers([SECRET], timestamp=1_768_487_400)
    expected = hmac.new(secret_key(SECRET), b"1768487400." + BODY, hashlib.sha256).hexdigest()
    assert signed["x-proveniq-signature"] == "sha256=" + expected
    assert signed["x-proveniq-timestamp"] == signed["webhook-timestamp"] == "1768487400"
    assert signed["x-proveniq-event"] == "claim.verified"
