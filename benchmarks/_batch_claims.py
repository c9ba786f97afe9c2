"""The claims batch benchmark's synthetic claims (benchmarks/batch.py): the partner's claim fields, their
registered documents, the JSON Lines claims file, the partner's reconciliation list, and the log entries of
``--reconcile-only`` (the bulk import's entry shapes, written through the recorder's raw group commit)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import orjson

from adapters.storage import StorageConfig, open_recorder
from ledger_core.claims.documents import Document
from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.envelope import EventDraft

PARTNER, API_PARTNER = "bench_carrier", "bench_api"
TYPES = ("auto", "property", "health")


def document_hash(partner: str, number: int) -> str:
    return hashlib.sha256(f"{partner}/{number}".encode()).hexdigest()


def claim_fields(partner: str, number: int) -> dict[str, Any]:
    document: dict[str, Any] = {"type": "photo", "hash": document_hash(partner, number)}
    if number % 10 == 0:
        document["metadata"] = {"policyReference": f"POL-{number % 997}"}
    return {
        "partnerClaimId": f"H-{number:08d}",
        "claimType": TYPES[number % 3],
        "claimAmount": f"{200 + (number * 7919) % 4800}.{number % 100:02d}",
        "currency": "USD",
        "submittedAt": f"2025-{1 + number % 12:02d}-{1 + number % 28:02d}T10:00:00Z",
        "documents": [document],
        "verificationLevel": "enhanced",
    }


def register_documents(ledger: Any, partner: str, count: int) -> None:
    """Setup: one registered photo per claim, 1,000 registrations per save."""
    pending = []
    for number in range(count):
        pending.append(
            Document.register(
                partner_id=partner,
                sha256=document_hash(partner, number),
                document_type="photo",
                media_type="image/jpeg",
                size_bytes=1000 + number,
                metadata={},
            )
        )
        if len(pending) == 1000:
            ledger.app.save(*pending)
            pending = []
    if pending:
        ledger.app.save(*pending)


def write_claims(path: Path, claims: int) -> None:
    with path.open("wb") as handle:
        for number in range(claims):
            handle.write(orjson.dumps(claim_fields(PARTNER, number)) + b"\n")


def write_reconciliation(path: Path, results: Path) -> int:
    """The partner's list from the results file: every claim with its status, one in 50 with another amount."""
    lines = 0
    with results.open("rb") as source, path.open("w", encoding="utf-8") as handle:
        handle.write("partnerClaimId,claimAmount,currency,status\n")
        next(source)
        for number, raw in enumerate(source):
            result = orjson.loads(raw)
            amount = claim_fields(PARTNER, number)["claimAmount"] if number % 50 else "1.00"
            handle.write(f"{result['partnerClaimId']},{amount},USD,{result['status']}\n")
            lines += 1
    return lines


def claim_drafts(number: int) -> tuple[EventDraft, EventDraft]:
    """Claim ``number``'s two entries as the bulk import writes them (payload fields and shapes of
    ``claim.submitted`` and its ``enhanced`` ``claim.verification_recorded``)."""
    fields = claim_fields(PARTNER, number)
    claim_id = str(derive_id("claim", PARTNER, fields["partnerClaimId"]))
    submitted_at = fields["submittedAt"].replace("Z", ".000000Z")
    documents = [{"hash": d["hash"], "metadata": d.get("metadata", {}), "type": d["type"]} for d in fields["documents"]]
    submitted = {
        "claim_amount": fields["claimAmount"],
        "claim_type": fields["claimType"],
        "currency": "USD",
        "documents": documents,
        "partner_claim_id": fields["partnerClaimId"],
        "submitted_at": submitted_at,
        "verification_level": "enhanced",
    }
    now = "2026-01-16T02:00:00.000000Z"
    verified = {
        "explanation": "The claim reached the ledger 380 days after its submittedAt (more than 365 days).",
        "factors": ["submitted_late"],
        "inputs": {
            "amount": fields["claimAmount"],
            "amountHistory": {"count": 0, "lnMad": None, "lnMedian": None},
            "asOfPosition": 2 * number,
            "claimType": fields["claimType"],
            "currency": "USD",
            "documents": [
                {
                    "hash": d["hash"],
                    "metadataConflicts": [],
                    "otherPartners": "none",
                    "ownOtherClaims": 0,
                    "registeredType": "photo",
                    "type": "photo",
                }
                for d in documents
            ],
            "evaluatedAt": now,
            "receivedAt": now,
            "reference": {"key": "policyReference" if number % 10 == 0 else None, "otherClaimsInWindow": 0},
            "submittedAt": submitted_at,
            "verificationLevel": "enhanced",
        },
        "previous_status": "submitted",
        "risk_level": "low",
        "risk_score": 25,
        "rule_set_version": "rules-v2",
        "status": "verified",
        "verification_id": str(uuid.uuid4()),
    }
    return (
        EventDraft(str(uuid.uuid4()), "claim.submitted", "Claim", claim_id, 1, PARTNER, submitted),
        EventDraft(str(uuid.uuid4()), "claim.verification_recorded", "Claim", claim_id, 2, PARTNER, verified),
    )


def write_claim_log(config: StorageConfig, claims: int) -> None:
    """Setup of ``--reconcile-only``: N claims' entries through the raw group commit, 500 claims per save."""
    recorder = open_recorder(config)
    try:
        for start in range(0, claims, 500):
            drafts = [draft for number in range(start, min(start + 500, claims)) for draft in claim_drafts(number)]
            recorder.submit_drafts(drafts).result()
    finally:
        recorder.close()


def write_partner_list(path: Path, claims: int) -> None:
    """The partner's list of the N claims in log order (status ``verified``), one in 50 with another amount."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("partnerClaimId,claimAmount,currency,status\n")
        for number in range(claims):
            fields = claim_fields(PARTNER, number)
            amount = fields["claimAmount"] if number % 50 else "1.00"
            handle.write(f"{fields['partnerClaimId']},{amount},USD,verified\n")
