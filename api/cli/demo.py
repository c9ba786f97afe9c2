"""The demo flow behind ``ledger demo`` (and ``make serve`` until the HTTP server lands).

It drives the real use cases on the real storage: a sandbox partner with an API key, documents, two
claims (each verified as it is submitted, as over HTTP, then resubmitted: a no-op), an eligibility record
with sealed personal data, an enrollment, then verifies the whole chain. Every run adds new claims, so it
can be repeated on the same data directory.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from ledger_core.claims.submission import validate_submission
from ledger_core.engine.errors import NotFound
from ledger_core.ledger import Ledger
from ledger_core.members.member_record import EligibilityRecord

DEMO_PARTNER = "demo_partner"


def run_demo(ledger: Ledger, now: datetime | None = None) -> dict[str, Any]:
    """Run the flow; return a summary (partner, new positions, claim statuses, chain summary)."""
    moment = now or datetime.now(UTC)
    stamp = moment.strftime("%Y%m%d%H%M%S%f")
    summary: dict[str, Any] = {"partner": DEMO_PARTNER}
    try:
        ledger.partners.get(DEMO_PARTNER)
    except NotFound:
        ledger.partners.register(
            partner_id=DEMO_PARTNER,
            name="Demo Partner (sandbox)",
            category="claims_software",
            tier="sandbox",
            scopes=["claims:write", "claims:read", "documents:write", "audit:read"],
        )
        issued = ledger.partners.issue_api_key(DEMO_PARTNER)
        summary["apiKey"] = {"keyId": issued.key_id, "secret": issued.secret, "note": "shown once"}
    summary["claims"] = _claims(ledger, moment, stamp, _documents(ledger, stamp))
    summary["member"] = _member(ledger, moment, stamp)
    chain = ledger.verify()
    summary["log"] = {
        "size": chain.size,
        "headLeafHash": None if chain.head_leaf_hash is None else chain.head_leaf_hash.hex(),
        "intact": True,
    }
    return summary


def _documents(ledger: Ledger, stamp: str) -> list[dict[str, Any]]:
    """Register a photo and a claim form; return them as a claim lists its documents."""
    photo = f"demo photo {stamp}".encode()
    form = f"demo claim form {stamp}".encode()
    documents = []
    for content, kind, media in ((photo, "photo", "image/jpeg"), (form, "form", "application/pdf")):
        digest = hashlib.sha256(content).hexdigest()
        ledger.documents.register(
            partner_id=DEMO_PARTNER,
            sha256=digest,
            document_type=kind,
            media_type=media,
            size_bytes=len(content),
            metadata={"source": "demo"},
        )
        documents.append({"type": kind, "hash": digest, "metadata": {"source": "demo"}})
    return documents


def _claims(ledger: Ledger, moment: datetime, stamp: str, documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Submit two claims listing ``documents``, each twice (the second time records nothing)."""
    submitted_at = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    claims: dict[str, dict[str, Any]] = {}
    for number, (kind, amount) in enumerate((("auto", "1250.00"), ("property", "98000.50")), start=1):
        submission = validate_submission(
            partner_id=DEMO_PARTNER,
            partner_claim_id=f"DEMO-{stamp}-{number}",
            claim_type=kind,
            claim_amount=amount,
            currency="USD",
            submitted_at=submitted_at,
            documents=documents,
            verification_level="standard",
        )
        first = ledger.claims.submit(submission)  # recorded and verified in one save
        again = ledger.claims.submit(submission)  # identical resubmission: idempotent, nothing new
        claims[submission.partner_claim_id] = {
            "claimId": str(first.claim_id),
            "positions": list(first.positions),
            "resubmissionRecorded": list(again.positions),
            "status": first.status.value,
        }
    return claims


def _member(ledger: Ledger, moment: datetime, stamp: str) -> dict[str, Any]:
    """An eligibility record (personal data sealed) and its enrollment today."""
    member = ledger.membership.upsert(
        DEMO_PARTNER,
        EligibilityRecord(
            partner_member_id=f"M{stamp}",
            email="jane.smith@example.com",
            first_name="Jane",
            last_name="Smith",
            date_of_birth="1985-09-20",
            state="TX",
            policy_type="Health",
        ),
    )
    enrollment = ledger.membership.enroll(DEMO_PARTNER, member.partner_member_id, moment.date().isoformat())
    return {"memberId": str(member.member_id), "enrollmentPositions": list(enrollment.positions)}
