"""Partner-facing webhook events: which log entries become which webhook, and the payload they carry.

Seed 000 section 3.3 (``claim.verified``, ``claim.fraud_detected``, ``proof.generated``, ``audit.alert``)
and seed 001 section 4.3 (``enrollment.completed``, ``sample.received``, ``result.delivered``,
``subscription.started``, ``subscription.cancelled``). Every payload has the shape::

    {"id": "msg_...", "type": <event type>, "event": <event type>, "timestamp": <RFC 3339>,
     "data": {...}, "ledger": {"position": <int|null>, "leafHash": <64 hex|null>}}

``event`` repeats ``type`` (the seed's name for it). ``timestamp`` is when the fact was recorded in the
log, ``ledger`` points at the entry that proves it (``GET /api/v1/audit/proofs/{position}``).

Triggers (mapped by stable log event type and status fields, so new fields added later pass through):

* ``claim.verification_recorded`` with status ``verified`` -> ``claim.verified``; ``flagged`` ->
  ``claim.fraud_detected``. ``claim.review_resolved`` with decision ``verified``/``flagged`` likewise.
* ``proof.generated``: a claim's verification entry (one of the two above) became part of a signed
  checkpoint, so its inclusion proof now exists. Built by :func:`proof_generated` when the tree grows.
* ``audit.alert``: a webhook delivery was given up after the last retry (:func:`delivery_failed_alert`,
  ``data.alert`` ``webhook_delivery_failed``); ``partner.api_key_expiring`` (an API key entered the
  warning window of the partner's key rotation schedule) -> ``data.alert`` ``api_key_expiring`` with
  ``key_id`` and ``expires_at``; an eligibility file was rejected whole (``eligibilityfile.rejected``), or
  more than the configured share of its rows was skipped (``eligibilityfile.completed`` with ``alert``
  true); a claims file was rejected whole (``claimsfile.rejected``: ``claims_file_rejected``) or a
  reconciliation found differences (``claimsfile.completed`` with mismatches, claims missing in the ledger or
  unknown to the partner: ``claims_reconciliation_differs`` with the counts and the report's SHA-256).
  The alert names the file, its SHA-256 and the counts, never a row's content; an identity
  provider's or our SP certificate expires within 30 days, or has expired (:func:`certificate_expiry_alert`,
  seed 001 section 1.4).
* ``enrollment.kit_ordered`` -> ``enrollment.completed`` (seed: "consented, kit ordered");
  ``enrollment.sample_received`` -> ``sample.received``; ``enrollment.result_delivered`` ->
  ``result.delivered`` with ``result_type`` always null (privacy: partners never see results);
  ``subscription.started`` and ``subscription.restarted`` -> ``subscription.started``;
  ``subscription.cancelled`` -> ``subscription.cancelled``.

Message ids (``webhook-id``) are stable: derived from the log event id (or the delivery an alert is
about), so every retry, resend and replay of one fact carries the same id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from ledger_core.engine.envelope import Envelope

__all__ = [
    "MAPPED_LOG_TYPES",
    "PROOF_SOURCE_TYPES",
    "History",
    "PartnerEvent",
    "certificate_expiry_alert",
    "delivery_failed_alert",
    "partner_events",
    "proof_generated",
]

History = Callable[[str, int], Sequence[Envelope]]
"""``history(aggregate_id, before_position)``: that aggregate's envelopes before ``before_position``, in order."""

_NAMESPACE = uuid.UUID("5b3f4f55-0d0f-4a55-9e36-7a1c1f0de5a1")


@dataclass(frozen=True, slots=True)
class PartnerEvent:
    """One webhook message for one partner: what every endpoint subscribed to ``type`` receives."""

    message_id: str
    partner_id: str
    type: str
    timestamp: str
    data: Mapping[str, Any]
    position: int | None
    leaf_hash: str | None

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.message_id,
            "type": self.type,
            "event": self.type,
            "timestamp": self.timestamp,
            "data": dict(self.data),
            "ledger": {"position": self.position, "leafHash": self.leaf_hash},
        }

    def body(self) -> bytes:
        """The exact bytes every delivery of this message sends (and signs)."""
        return orjson.dumps(self.payload())


def _message_id(kind: str, key: str) -> str:
    return "msg_" + uuid.uuid5(_NAMESPACE, f"{kind}:{key}").hex


def _amount(value: Any) -> float | None:
    """The seed sends money as a JSON number (``50.0``); the log keeps a decimal string."""
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def _first(history: Sequence[Envelope], event_type: str) -> Envelope | None:
    return next((e for e in history if e.type == event_type), None)


def _claim_outcome(envelope: Envelope) -> str | None:
    payload = envelope.payload
    if envelope.type == "claim.verification_recorded":
        status = payload.get("status")
    elif envelope.type == "claim.review_resolved":
        status = payload.get("decision")
    else:
        return None
    return {"verified": "claim.verified", "flagged": "claim.fraud_detected"}.get(str(status))


def _claim_data(envelope: Envelope, history: History) -> dict[str, Any]:
    submitted = _first(history(envelope.aggregate_id, envelope.position), "claim.submitted")
    payload = envelope.payload
    data: dict[str, Any] = {
        "claim_id": envelope.aggregate_id,
        "partner_claim_id": None if submitted is None else submitted.payload.get("partner_claim_id"),
        "status": payload.get("status", payload.get("decision")),
        "previous_status": payload.get("previous_status"),
    }
    if envelope.type == "claim.verification_recorded":
        data["verification_id"] = payload.get("verification_id")
        for name in ("risk_score", "risk_level", "factors", "explanation"):
            data[name] = payload.get(name)
    else:
        data["review"] = True
    return data


def _member(envelope: Envelope, history: History) -> str | None:
    """The partner member id, from the aggregate's first event (enrollment or subscription)."""
    if "partner_member_id" in envelope.payload:
        return str(envelope.payload["partner_member_id"])
    earlier = history(envelope.aggregate_id, envelope.position)
    first = earlier[0] if earlier else None
    return None if first is None else first.payload.get("partner_member_id")


def _enrollment_completed(envelope: Envelope, history: History) -> dict[str, Any]:
    enrolled = _first(history(envelope.aggregate_id, envelope.position), "enrollment.enrolled")
    return {
        "partner_member_id": _member(envelope, history),
        "enrollment_id": envelope.aggregate_id,
        "enrollment_date": None if enrolled is None else enrolled.payload.get("enrollment_date"),
        "kit_order_date": envelope.payload.get("kit_order_date"),
        "enrollment_url": None,
    }


def _sample_received(envelope: Envelope, history: History) -> dict[str, Any]:
    return {
        "partner_member_id": _member(envelope, history),
        "sample_received_date": envelope.payload.get("sample_received_date"),
        "estimated_result_date": envelope.payload.get("estimated_result_date"),
    }


def _result_delivered(envelope: Envelope, history: History) -> dict[str, Any]:
    earlier = history(envelope.aggregate_id, envelope.position)
    counseling = [e.payload.get("counseling_at") for e in earlier if e.type == "enrollment.counseling_scheduled"]
    return {
        "partner_member_id": _member(envelope, history),
        "result_delivery_date": envelope.payload.get("result_delivery_date"),
        "result_type": None,  # privacy: a partner never sees an individual result (seed 001 section 4.3)
        "counseling_scheduled": bool(counseling),
        "counseling_date": counseling[-1] if counseling else None,
    }


def _subscription_started(envelope: Envelope, history: History) -> dict[str, Any]:
    payload = envelope.payload
    return {
        "partner_member_id": _member(envelope, history),
        "subscription_start_date": payload.get("start_date"),
        "subscription_amount": _amount(payload.get("amount")),
        "subscription_currency": payload.get("currency"),
        "subscription_frequency": payload.get("frequency"),
    }


def _subscription_cancelled(envelope: Envelope, history: History) -> dict[str, Any]:
    return {
        "partner_member_id": _member(envelope, history),
        "cancellation_date": envelope.payload.get("cancellation_date"),
        "cancellation_reason": envelope.payload.get("reason"),
    }


def _key_expiring(envelope: Envelope, history: History) -> dict[str, Any]:
    return {
        "alert": "api_key_expiring",
        "key_id": envelope.payload["key_id"],
        "expires_at": envelope.payload["expires_at"],
        "action": "rotate the key before expires_at; requests with it are refused from then on",
    }


_SIMPLE: dict[str, tuple[str, Callable[[Envelope, History], dict[str, Any]]]] = {
    "partner.api_key_expiring": ("audit.alert", _key_expiring),
    "enrollment.kit_ordered": ("enrollment.completed", _enrollment_completed),
    "enrollment.sample_received": ("sample.received", _sample_received),
    "enrollment.result_delivered": ("result.delivered", _result_delivered),
    "subscription.started": ("subscription.started", _subscription_started),
    "subscription.restarted": ("subscription.started", _subscription_started),
    "subscription.cancelled": ("subscription.cancelled", _subscription_cancelled),
}


def _file_rejected(envelope: Envelope, history: History) -> dict[str, Any] | None:
    del history
    payload = envelope.payload
    return {
        "alert": "eligibility_file_rejected",
        "file_name": payload.get("file_name"),
        "file_sha256": payload.get("digest"),
        "rejection": payload.get("rejection"),
        "message": payload.get("message"),
        "line": payload.get("line"),
    }


def _rows_refused(envelope: Envelope, history: History) -> dict[str, Any] | None:
    payload = envelope.payload
    if not payload.get("alert"):
        return None
    received = _first(history(envelope.aggregate_id, envelope.position), "eligibilityfile.received")
    return {
        "alert": "eligibility_rows_refused",
        "file_name": None if received is None else received.payload.get("file_name"),
        "file_sha256": None if received is None else received.payload.get("digest"),
        "status": payload.get("status"),
        "rows": payload.get("rows"),
        "rows_accepted": payload.get("accepted"),
        "rows_refused": payload.get("refused"),
    }


def _claims_file_rejected(envelope: Envelope, history: History) -> dict[str, Any] | None:
    del history
    payload = envelope.payload
    return {
        "alert": "claims_file_rejected",
        "file_name": payload.get("file_name"),
        "file_sha256": payload.get("digest"),
        "rejection": payload.get("rejection"),
        "message": payload.get("message"),
        "line": payload.get("line"),
    }


_DISCREPANCIES = ("mismatch", "missing_in_ledger", "unknown_to_partner")


def _reconciliation_differs(envelope: Envelope, history: History) -> dict[str, Any] | None:
    counts = envelope.payload.get("counts") or {}
    if not any(counts.get(kind) for kind in _DISCREPANCIES):
        return None
    received = _first(history(envelope.aggregate_id, envelope.position), "claimsfile.received")
    return {
        "alert": "claims_reconciliation_differs",
        "file_name": None if received is None else received.payload.get("file_name"),
        "file_sha256": None if received is None else received.payload.get("digest"),
        "counts": {kind: counts.get(kind, 0) for kind in _DISCREPANCIES},
        "report_sha256": envelope.payload.get("report_sha256"),
    }


_ALERTS: dict[str, Callable[[Envelope, History], dict[str, Any] | None]] = {
    "eligibilityfile.rejected": _file_rejected,
    "eligibilityfile.completed": _rows_refused,
    "claimsfile.rejected": _claims_file_rejected,
    "claimsfile.completed": _reconciliation_differs,
}
"""Log events that may raise ``audit.alert`` (the builder returns None when this one does not)."""
PROOF_SOURCE_TYPES: frozenset[str] = frozenset({"claim.verification_recorded", "claim.review_resolved"})
MAPPED_LOG_TYPES: frozenset[str] = frozenset(_SIMPLE) | PROOF_SOURCE_TYPES | frozenset(_ALERTS)
"""Log event types that may become a webhook (anything else is skipped without reading history)."""


def partner_events(envelope: Envelope, leaf_hash: bytes, history: History) -> list[PartnerEvent]:
    """The webhook messages one log entry produces (none for most entries, or for entries of no partner)."""
    if envelope.partner_id is None or envelope.type not in MAPPED_LOG_TYPES:
        return []
    if envelope.type in PROOF_SOURCE_TYPES:
        event_type = _claim_outcome(envelope)
        if event_type is None:
            return []
        data = _claim_data(envelope, history)
    elif envelope.type in _ALERTS:
        alert = _ALERTS[envelope.type](envelope, history)
        if alert is None:
            return []
        event_type, data = "audit.alert", alert
    else:
        event_type, build = _SIMPLE[envelope.type]
        data = build(envelope, history)
    return [
        PartnerEvent(
            message_id="msg_" + uuid.UUID(envelope.event_id).hex,
            partner_id=envelope.partner_id,
            type=event_type,
            timestamp=envelope.recorded_at,
            data=data,
            position=envelope.position,
            leaf_hash=leaf_hash.hex(),
        )
    ]


def proof_generated(
    envelope: Envelope, leaf_hash: bytes, *, checkpoint_size: int, root_hash: str, sealed_at: str
) -> PartnerEvent | None:
    """``proof.generated`` for a claim verification entry now covered by the checkpoint of ``checkpoint_size``."""
    if envelope.partner_id is None or _claim_outcome(envelope) is None:
        return None
    return PartnerEvent(
        message_id=_message_id("proof", envelope.event_id),
        partner_id=envelope.partner_id,
        type="proof.generated",
        timestamp=sealed_at,
        data={
            "claim_id": envelope.aggregate_id,
            "event_type": envelope.type,
            "proof_url": f"/api/v1/claims/{envelope.aggregate_id}/proof",
            "audit_proof_url": f"/api/v1/audit/proofs/{envelope.position}",
            "checkpoint": {"size": checkpoint_size, "rootHash": root_hash},
        },
        position=envelope.position,
        leaf_hash=leaf_hash.hex(),
    )


def delivery_failed_alert(
    *,
    partner_id: str,
    delivery_id: int,
    endpoint_id: str,
    failed: Mapping[str, Any],
    attempts: int,
    last_status: int | None,
    last_error: str | None,
    at: str,
) -> PartnerEvent:
    """``audit.alert`` saying delivery ``delivery_id`` of message ``failed`` (its payload) was given up."""
    ledger = failed.get("ledger") or {}
    return PartnerEvent(
        message_id=_message_id("alert", f"{partner_id}:{delivery_id}"),
        partner_id=partner_id,
        type="audit.alert",
        timestamp=at,
        data={
            "alert": "webhook_delivery_failed",
            "endpoint_id": endpoint_id,
            "delivery_id": delivery_id,
            "message_id": failed.get("id"),
            "event_type": failed.get("type"),
            "attempts": attempts,
            "last_status_code": last_status,
            "last_error": last_error,
        },
        position=ledger.get("position"),
        leaf_hash=ledger.get("leafHash"),
    )


def feed_alert(*, partner_id: str, alert: str, key: str, at: str, details: Mapping[str, Any]) -> PartnerEvent:
    """``audit.alert`` about a batch feed (seed 001 section 2.5, "Monitoring"): ``alert`` names what
    happened (``feed_late``, ``sftp_host_key_refused``...), ``key`` makes the message id stable so the
    same fact raised twice is one message. ``details`` never carry personal data."""
    return PartnerEvent(
        message_id=_message_id("feed-alert", f"{partner_id}:{alert}:{key}"),
        partner_id=partner_id,
        type="audit.alert",
        timestamp=at,
        data={"alert": alert, **details},
        position=None,
        leaf_hash=None,
    )


def certificate_expiry_alert(
    *,
    partner_id: str,
    provider_id: str,
    role: str,
    fingerprint: str,
    not_after: str,
    stage: str,
    days_left: int,
    at: str,
) -> PartnerEvent:
    """``audit.alert`` saying the ``role`` (``idp`` or ``sp``) certificate ``fingerprint`` of the partner's
    provider ``provider_id`` is at ``stage`` (``expiring``: within 30 days; ``expired``) of its ``not_after``.

    One message per certificate and stage: the id is derived from both, so a watcher that runs every hour
    raises each alert once (seed 001 section 1.4: "alert 30 days before").
    """
    return PartnerEvent(
        message_id=_message_id("certificate", f"{partner_id}:{provider_id}:{role}:{fingerprint}:{stage}"),
        partner_id=partner_id,
        type="audit.alert",
        timestamp=at,
        data={
            "alert": f"sso_certificate_{stage}",
            "provider_id": provider_id,
            "certificate": role,
            "sha256_fingerprint": fingerprint,
            "not_after": not_after,
            "days_left": days_left,
        },
        position=None,
        leaf_hash=None,
    )
