"""The library and the HTTP API call the same use cases: the same commands, sent through ``open_ledger`` and
through a real server into two fresh ledgers, record the same events (types, versions and payloads)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.http_server import LiveServer, servers

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.claims.submission import validate_submission
from ledger_core.engine.aggregate import derive_id
from ledger_core.ledger import Ledger

SUBMITTED_AT = "2026-01-15T14:30:00Z"
CLOCK_READINGS = ("receivedAt", "evaluatedAt")
"""The only inputs that depend on when the command ran (the wall clock of each process)."""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from servers(request, tmp_path_factory, request.param)


@pytest.fixture
def library(server: LiveServer, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A fresh ledger on the server's backend, opened as an embedder opens one."""
    url = None if server.database_url is None else request.getfixturevalue("postgres_url")
    with open_ledger(StorageConfig(tmp_path / "library", url)) as ledger:
        yield ledger


def claim_fields(reference: str, documents: list[dict[str, Any]], level: str) -> dict[str, Any]:
    return {
        "partner_claim_id": reference,
        "claim_type": "auto",
        "claim_amount": "1250.00",
        "currency": "USD",
        "submitted_at": SUBMITTED_AT,
        "documents": documents,
        "verification_level": level,
    }


def body(fields: dict[str, Any]) -> dict[str, Any]:
    """The seed 5.1 JSON of ``fields``."""
    names = {"partner_claim_id": "partnerClaimId", "claim_type": "claimType", "claim_amount": "claimAmount"}
    names |= {"submitted_at": "submittedAt", "verification_level": "verificationLevel"}
    return {names.get(key, key): value for key, value in fields.items()}


def events(ledger: Ledger, aggregate_ids: list[str], base: int) -> list[tuple[str, str, int, Any]]:
    """(aggregate, type, version, payload) of each aggregate's events, clock readings masked and
    ``asOfPosition`` counted from ``base`` (the two ledgers hold different entries before the commands)."""
    found = []
    for aggregate_id in aggregate_ids:
        for envelope in ledger.history(uuid.UUID(aggregate_id)):
            payload = dict(envelope.payload)
            if isinstance(payload.get("inputs"), dict):
                inputs = {**payload["inputs"], **dict.fromkeys(CLOCK_READINGS, "<clock>")}
                inputs["asOfPosition"] -= base
                payload["inputs"] = inputs
            found.append((aggregate_id, envelope.type, envelope.aggregate_version, payload))
    return found


def first_position(ledger: Ledger, aggregate_id: str) -> int:
    return ledger.history(uuid.UUID(aggregate_id))[0].position


def test_the_same_commands_record_the_same_events(server: LiveServer, library: Ledger) -> None:
    """Upload, submit (enhanced: waits for a document; full: waits for a reviewer), register the missing
    document (re-verifies), review: the library's ledger and the server's hold the same events."""
    partner_id = f"p_{uuid.uuid4().hex[:10]}"
    operator_id = f"ops_{uuid.uuid4().hex[:8]}"
    client = server.client(server.create_partner(partner_id))
    operator = server.client(server.create_operator(operator_id))
    photo, form, second = (uuid.uuid4().bytes for _ in range(3))
    photo_hash, form_hash, second_hash = (hashlib.sha256(content).hexdigest() for content in (photo, form, second))
    listed = [
        {"type": "photo", "hash": photo_hash, "metadata": {"camera": "phone"}},
        {"type": "form", "hash": form_hash, "metadata": {}},
    ]
    waiting = claim_fields("PAR-1", listed, "enhanced")
    reviewed = claim_fields("PAR-2", [{"type": "photo", "hash": second_hash, "metadata": {}}], "full")

    # through HTTP
    client.upload_document(photo, document_type="photo", media_type="image/jpeg", metadata={"camera": "phone"})
    client.upload_document(second, document_type="photo", media_type="image/png")
    assert client.submit_claim(body(waiting)).status == "pending"
    assert client.submit_claim(body(reviewed)).status == "pending"
    client.upload_document(form, document_type="form", media_type="application/pdf")
    assert operator.review_claim(partner_id, str(claim_id(partner_id, "PAR-2")), decision="verified").status == (
        "verified"
    )

    # through the library
    library.documents.register(
        partner_id=partner_id,
        sha256=photo_hash,
        document_type="photo",
        media_type="image/jpeg",
        size_bytes=len(photo),
        metadata={"camera": "phone"},
    )
    library.documents.register(
        partner_id=partner_id,
        sha256=second_hash,
        document_type="photo",
        media_type="image/png",
        size_bytes=len(second),
        metadata={},
    )
    assert library.claims.submit(validate_submission(partner_id=partner_id, **waiting)).status == "pending"
    assert library.claims.submit(validate_submission(partner_id=partner_id, **reviewed)).status == "pending"
    library.documents.register(
        partner_id=partner_id,
        sha256=form_hash,
        document_type="form",
        media_type="application/pdf",
        size_bytes=len(form),
        metadata={},
    )
    decided = library.claims.review(
        claim_id(partner_id, "PAR-2"), partner_id, decision="verified", reviewer=operator_id, notes=""
    )
    assert decided.status == "verified"

    aggregates = [
        str(derive_id("document", partner_id, photo_hash)),
        str(derive_id("document", partner_id, second_hash)),
        str(claim_id(partner_id, "PAR-1")),
        str(claim_id(partner_id, "PAR-2")),
        str(derive_id("document", partner_id, form_hash)),
    ]
    with open_ledger(StorageConfig(server.data_dir, server.database_url)) as served:
        over_http = events(served, aggregates, first_position(served, aggregates[0]))
    embedded = events(library, aggregates, first_position(library, aggregates[0]))
    assert embedded == over_http
    assert [(kind, version) for _, kind, version, _ in embedded] == [
        ("document.registered", 1),
        ("document.registered", 1),
        ("claim.submitted", 1),
        ("claim.verification_recorded", 2),  # pending: the form is not registered yet
        ("claim.verification_recorded", 3),  # verified once the form is registered
        ("claim.submitted", 1),
        ("claim.verification_recorded", 2),  # pending: awaiting review
        ("claim.review_resolved", 3),
        ("document.registered", 1),
    ]
    verified = [payload["status"] for _, kind, _, payload in embedded if kind == "claim.verification_recorded"]
    assert verified == ["pending", "verified", "pending"]
    assert [embedded[3][3]["inputs"]["asOfPosition"], embedded[4][3]["inputs"]["asOfPosition"]] == [2, 7]


def claim_id(partner_id: str, reference: str) -> uuid.UUID:
    return derive_id("claim", partner_id, reference)
