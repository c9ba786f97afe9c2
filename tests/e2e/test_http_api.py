"""The partner HTTP API end to end: a real server subprocess, the SDK, every endpoint, on both backends."""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from support.http_server import LiveServer, claim_body, servers

from api.client.ledger_client import LedgerApiError, LedgerClient
from proofs import leaf_hash, verify_checkpoint
from proofs.verify import verify_consistency, verify_inclusion


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per backend for this module."""
    yield from servers(request, tmp_path_factory, request.param)


def new_partner(server: LiveServer, **options: Any) -> LedgerClient:
    credentials = server.create_partner(f"p_{uuid.uuid4().hex[:10]}")
    return server.client(credentials, **options)


def upload(client: LedgerClient, content: bytes, kind: str = "photo", media: str = "image/jpeg") -> dict[str, Any]:
    document = client.upload_document(content, document_type=kind, media_type=media)
    return {"type": kind, "hash": document.hash, "metadata": {}}


def test_token_is_an_rfc9068_jwt_verifiable_with_the_jwks(server: LiveServer) -> None:
    """The access token is an EdDSA at+jwt whose key is in the JWKS, with the RFC 9068 claims."""
    client = new_partner(server)
    token = client.token()
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "EdDSA"
    jwks = client.jwks()
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    public = jwt.PyJWK(key).key
    claims = jwt.decode(token, public, algorithms=["EdDSA"], audience="https://ledger.proveniq.local/api/v1")
    assert claims["client_id"] == client.client_id
    assert claims["sub"] == client.client_id.removeprefix("partner_")
    assert claims["exp"] - claims["iat"] == 3600
    assert {"iss", "jti", "scope"} <= set(claims)


def test_submitted_claim_proof_verifies_offline(server: LiveServer) -> None:
    """POST /claims answers 201 with a proof that verifies against the checkpoint signed by the vkey."""
    client = new_partner(server)
    document = upload(client, b"photo of the dented bumper " + uuid.uuid4().bytes)
    result = client.submit_claim(claim_body("CLM-1", [document], amount=1250.10))
    response = client.last_response
    assert response is not None
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/claims/{result.claim_id}"
    assert result.status == "verified"
    assert result.rule_set_version == "rules-v1"
    assert result.proof is not None
    proof = result.proof

    vkey = client.public_key()
    head = verify_checkpoint(proof.checkpoint, vkey)
    entry = base64.b64decode(proof.entry)
    assert leaf_hash(entry).hex() == proof.hash
    assert (head.size, head.root_hash.hex()) == (proof.tree_size, proof.merkle_root)
    path = [bytes.fromhex(node) for node in proof.inclusion_path]
    verify_inclusion(leaf_hash(entry), proof.leaf_index, proof.tree_size, path, head.root_hash)
    client.verify_proof_offline(proof, vkey)
    assert b'"claimAmount"' not in entry
    assert client.get_claim(result.claim_id).claim_amount == "1250.10"


def test_identical_resubmission_returns_the_existing_claim(server: LiveServer) -> None:
    """Resubmitting the same claim is 200 with the same id; changing it is 409 DUPLICATE_CLAIM."""
    client = new_partner(server)
    first = client.submit_claim(claim_body("CLM-2", amount="99.50"))
    again = client.submit_claim(claim_body("CLM-2", amount=99.5))
    assert client.last_response is not None
    assert client.last_response.status_code == 200
    assert again.claim_id == first.claim_id
    assert again.verification_id == first.verification_id
    with pytest.raises(LedgerApiError) as conflict:
        client.submit_claim(claim_body("CLM-2", amount="99.51"))
    assert conflict.value.status == 409
    assert conflict.value.code == "DUPLICATE_CLAIM"
    assert conflict.value.details["differing_fields"] == ["claimAmount"]  # the wire names of the claims API


def test_pending_claim_becomes_verified_once_its_document_is_registered(server: LiveServer) -> None:
    """A claim listing an unknown document is pending; after the upload, /verify records verified."""
    client = new_partner(server)
    content = b"late form " + uuid.uuid4().bytes
    digest = hashlib.sha256(content).hexdigest()
    pending = client.submit_claim(claim_body("CLM-3", [{"type": "form", "hash": digest, "metadata": {}}]))
    assert pending.status == "pending"
    assert pending.factors == [f"document_not_registered:{digest}"]
    client.upload_document(content, document_type="form", media_type="application/pdf", multipart=True)

    verified = client.verify_claim(pending.claim_id)
    assert verified.status == "verified"
    assert verified.verification_id != pending.verification_id
    assert verified.proof is not None
    again = client.verify_claim(pending.claim_id)  # same outcome: nothing new is recorded
    assert again.verification_id == verified.verification_id

    events = client.claim_events(pending.claim_id)
    assert [e.type for e in events.data] == [
        "claim.submitted",
        "claim.verification_recorded",
        "claim.verification_recorded",
    ]
    assert [e.aggregate_version for e in events.data] == [1, 2, 3]
    assert events.data[1].aggregate_prev_position == events.data[0].position
    proof = client.get_claim_proof(pending.claim_id)
    assert proof.proof is not None
    assert proof.proof.leaf_index == events.data[-1].position
    view = client.get_claim(pending.claim_id)
    assert [v.status for v in view.verifications] == ["pending", "verified"]


def test_document_of_another_type_rejects_the_claim(server: LiveServer) -> None:
    """A listed hash registered with another document type makes the standard check reject."""
    client = new_partner(server)
    document = upload(client, b"a photo " + uuid.uuid4().bytes)
    result = client.submit_claim(claim_body("CLM-4", [{**document, "type": "pdf"}]))
    assert result.status == "rejected"
    assert result.factors == [f"document_type_mismatch:{document['hash']}"]


def test_documents_are_hashed_recorded_and_looked_up(server: LiveServer) -> None:
    """Raw and multipart uploads record the SHA-256; re-upload is 200, other attributes 409, unknown 404."""
    client = new_partner(server)
    content = uuid.uuid4().bytes * 1000
    created = client.upload_document(content, document_type="photo", media_type="image/png", metadata={"a": "b"})
    assert client.last_response is not None
    assert client.last_response.status_code == 201
    assert created.hash == hashlib.sha256(content).hexdigest()
    assert (created.size_bytes, created.media_type, created.metadata) == (len(content), "image/png", {"a": "b"})
    same = client.upload_document(
        content, document_type="photo", media_type="image/png", metadata={"a": "b"}, multipart=True
    )
    assert client.last_response.status_code == 200
    assert same.created is False
    assert client.get_document(created.hash).document_id == created.document_id
    with pytest.raises(LedgerApiError) as conflict:
        client.upload_document(content, document_type="photo", media_type="image/png", metadata={"a": "c"})
    assert (conflict.value.status, conflict.value.code) == (409, "DOCUMENT_CONFLICT")
    with pytest.raises(LedgerApiError) as missing:
        client.get_document(hashlib.sha256(b"never uploaded").hexdigest())
    assert (missing.value.status, missing.value.code) == (404, "DOCUMENT_NOT_FOUND")
    with pytest.raises(LedgerApiError) as malformed:
        client.get_document("not-a-hash")
    assert (malformed.value.status, malformed.value.code) == (400, "VALIDATION_ERROR")


def test_audit_logs_page_and_filter_the_callers_entries(server: LiveServer) -> None:
    """Stripe-style pages walk the partner's entries in order; type, aggregate and time filters apply."""
    client = new_partner(server)
    claims = [client.submit_claim(claim_body(f"CLM-L{n}")) for n in range(3)]
    entries = list(client.iter_audit_logs(page_size=2))
    positions = [entry.position for entry in entries]
    assert positions == sorted(positions)
    assert len(entries) == 3 + 3 * 2  # registered + 2 keys, then 3 x (submitted + verification)
    first = client.audit_logs(limit=2)
    assert first.has_more is True
    assert len(first.data) == 2
    submitted = client.audit_logs(limit=100, type="claim.submitted")
    assert [e.aggregate_id for e in submitted.data] == [c.claim_id for c in claims]
    one = client.audit_logs(aggregate=claims[1].claim_id)
    assert {e.aggregate_id for e in one.data} == {claims[1].claim_id}
    cutoff = entries[3].recorded_at
    assert [e.position for e in client.audit_logs(limit=100, since=cutoff).data] == positions[3:]
    # a claim and its first verification are one save: they share a recordedAt
    assert [e.position for e in client.audit_logs(limit=100, until=cutoff).data] == positions[:5]
    with pytest.raises(LedgerApiError) as bad:
        client.audit_logs(limit=101)
    assert (bad.value.status, bad.value.code) == (400, "VALIDATION_ERROR")


def test_audit_proofs_checkpoints_and_consistency_verify(server: LiveServer) -> None:
    """Entry proofs, signed checkpoints and a consistency proof between two checkpoints all verify."""
    client = new_partner(server)
    first = client.submit_claim(claim_body("CLM-A1"))
    assert first.proof is not None
    old_size = first.proof.tree_size
    second = client.submit_claim(claim_body("CLM-A2"))
    assert second.proof is not None
    vkey = client.public_key()
    entry = client.audit_logs(limit=1).data[0]
    audit = client.audit_proof(entry.position)
    client.verify_proof_offline(audit, vkey)
    assert audit.ledger_event_id == entry.ledger_event_id

    latest = verify_checkpoint(client.checkpoint(), vkey)
    assert latest.size >= second.proof.tree_size
    old = verify_checkpoint(client.checkpoint(old_size), vkey)
    assert old.size == old_size
    proof = client.consistency(old_size, latest.size)
    assert proof.from_checkpoint == client.checkpoint(old_size)
    path = [bytes.fromhex(node) for node in proof.consistency_path]
    verify_consistency(old_size, latest.size, old.root_hash, latest.root_hash, path)
    pinned = client.audit_proof(entry.position, tree_size=old_size)
    assert pinned.tree_size == old_size
    with pytest.raises(LedgerApiError) as missing:
        client.checkpoint(10**9)
    assert (missing.value.status, missing.value.code) == (404, "CHECKPOINT_NOT_FOUND")


def test_money_is_exact_and_never_a_float(server: LiveServer) -> None:
    """claimAmount as a JSON number or a string is kept exactly; an extra decimal place is refused."""
    client = new_partner(server)
    as_number = client.submit_claim(claim_body("CLM-M1", amount=0.1))
    assert client.get_claim(as_number.claim_id).claim_amount == "0.10"
    as_string = client.submit_claim(claim_body("CLM-M2", amount="12345678901.99"))
    assert client.get_claim(as_string.claim_id).claim_amount == "12345678901.99"
    with pytest.raises(LedgerApiError) as bad:
        client.submit_claim(claim_body("CLM-M3", amount=1.005))
    assert (bad.value.status, bad.value.code) == (400, "VALIDATION_ERROR")
    assert bad.value.details["field"] == "claimAmount"


def test_operations_endpoints_and_openapi(server: LiveServer) -> None:
    """/health, /ready, /metrics and the OpenAPI 3.1 document (every endpoint, error schema) are served."""
    client = new_partner(server)
    client.submit_claim(claim_body("CLM-O1"))
    assert client.health().status == "ok"
    ready = client.ready()
    assert (ready.status, ready.database) == ("ready", "ok")
    assert ready.sealer == ("running" if server.sealer is None else "external")
    metrics = client.metrics()
    assert 'ledger_http_requests_total{method="POST",route="/api/v1/claims",status="201"}' in metrics
    assert "ledger_seal_lag_entries" in metrics
    document = httpx.get(f"{server.url}/schema/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path in (
        "/oauth/token",
        "/.well-known/jwks.json",
        "/api/v1/claims",
        "/api/v1/claims/{claim_id}",
        "/api/v1/claims/{claim_id}/proof",
        "/api/v1/claims/{claim_id}/verify",
        "/api/v1/claims/{claim_id}/events",
        "/api/v1/documents",
        "/api/v1/documents/{sha256}",
        "/api/v1/audit/logs",
        "/api/v1/audit/proofs/{position}",
        "/api/v1/audit/checkpoint",
        "/api/v1/audit/checkpoints/{size}",
        "/api/v1/audit/consistency",
        "/api/v1/audit/public-key",
        "/health",
        "/ready",
        "/metrics",
    ):
        assert path in paths, path
    submit = paths["/api/v1/claims"]["post"]
    assert {"200", "201", "202", "400", "401", "403", "409", "413", "422", "429", "500"} <= set(submit["responses"])
    too_many = submit["responses"]["429"]["$ref"].rsplit("/", 1)[-1]  # error responses are shared components
    assert document["components"]["responses"][too_many]["headers"]["Retry-After"]
    assert "ErrorResponse" in document["components"]["schemas"]
    amount = document["components"]["schemas"]["ClaimSubmission"]["properties"]["claimAmount"]
    assert (amount["type"], amount["examples"]) == (["string", "number"], ["1250.00"])  # DecimalSchemaPlugin
    assert httpx.get(f"{server.url}/schema").status_code == 200


def test_concurrent_identical_submissions_agree(server: LiveServer) -> None:
    """Eight simultaneous submissions of one claim: one creates it, all answer the same claim and check."""
    client = new_partner(server)
    client.token()
    body = claim_body("CLM-C1")
    results: list[Any] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            results.append(client.submit_claim(body))
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({r.claim_id for r in results}) == 1
    assert len({r.verification_id for r in results}) == 1
    assert len(client.audit_logs(limit=100, type="claim.submitted").data) == 1
