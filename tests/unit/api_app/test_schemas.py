"""Request and response schemas: camelCase, exact money, unknown fields refused, the seed's shapes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated

import msgspec
import pytest
from litestar import Litestar, post
from litestar.params import Body

from api.client.schemas import common as schemas
from api.client.schemas.members import SubscriptionStartRequest
from api.http.openapi import DecimalSchemaPlugin

BASE = (
    b'{"partnerClaimId":"C-1","claimType":"auto","currency":"USD","submittedAt":"2026-01-15T14:30:00Z",'
    b'"documents":[{"type":"photo","hash":"' + b"a" * 64 + b'"}],"verificationLevel":"standard","claimAmount":'
)


def decode(amount: bytes) -> schemas.ClaimSubmission:
    return msgspec.json.decode(BASE + amount + b"}", type=schemas.ClaimSubmission)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"1250.10", Decimal("1250.10")),
        (b'"1250.10"', Decimal("1250.10")),
        (b"0.1", Decimal("0.1")),
        (b"0.1000000000000000055511151231257827", Decimal("0.1000000000000000055511151231257827")),
        (b"12345678901234567890.99", Decimal("12345678901234567890.99")),
    ],
)
def test_claim_amount_is_decoded_exactly(raw: bytes, expected: Decimal) -> None:
    """A JSON number or string amount becomes the exact Decimal of its text, never a binary float."""
    amount = decode(raw).claim_amount
    assert isinstance(amount, Decimal)
    assert amount == expected
    assert str(amount) == str(expected)


def test_claim_amount_refuses_non_numbers() -> None:
    """Booleans and objects are not amounts."""
    with pytest.raises(msgspec.ValidationError):
        decode(b"true")


def test_submission_fields_are_camel_case_and_strict() -> None:
    """Wire names are the seed's camelCase; an unknown field is an error, not silently dropped."""
    submission = decode(b"1")
    assert (submission.partner_claim_id, submission.claim_type, submission.verification_level) == (
        "C-1",
        "auto",
        "standard",
    )
    assert submission.partner_id is None
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(BASE + b'1,"extra":1}', type=schemas.ClaimSubmission)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(BASE.replace(b'"auto"', b'"boat"') + b"1}", type=schemas.ClaimSubmission)


def test_document_hashes_must_be_sha256_hex() -> None:
    """A document hash is 64 lowercase hex digits."""
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(BASE.replace(b"a" * 64, b"A" * 64) + b"1}", type=schemas.ClaimSubmission)


def test_verification_response_carries_the_proof_fields() -> None:
    """VerificationResponse has seed 5.2's fields and the proof document's fields (with the deprecated hash)."""
    proof = schemas.Proof(
        ledger_event_id="e",
        hash="h",
        leaf_hash="h",
        timestamp="t",
        merkle_root="r",
        leaf_index=1,
        tree_size=2,
        inclusion_path=["p"],
        checkpoint="c",
        entry="AA==",
    )
    body = msgspec.json.decode(
        msgspec.json.encode(
            schemas.VerificationResponse(
                verification_id="v", claim_id="c", status="verified", proof=proof, partner_claim_id="C-1"
            )
        )
    )
    assert {"verificationId", "claimId", "status", "proof"} <= set(body)
    assert "riskAssessment" not in body  # absent, not null, when no risk assessment was requested
    assert set(body["proof"]) == {
        "format",
        "ledgerEventId",
        "leafHash",
        "hash",
        "timestamp",
        "merkleRoot",
        "leafIndex",
        "treeSize",
        "inclusionPath",
        "checkpoint",
        "entry",
    }


def test_a_late_seal_has_a_null_proof() -> None:
    """When the seal did not come in time the proof is present and null."""
    response = schemas.VerificationResponse(
        verification_id=None, claim_id="c", status="pending", proof=None, partner_claim_id="C-1"
    )
    assert msgspec.json.decode(msgspec.json.encode(response))["proof"] is None


def test_error_response_matches_the_seed_envelope() -> None:
    """ErrorResponse decodes the body every error has."""
    body = b'{"error":{"code":"X","message":"m","details":{},"requestId":"r","documentation":"d"}}'
    decoded = msgspec.json.decode(body, type=schemas.ErrorResponse)
    assert decoded.error.request_id == "r"


def test_money_in_the_openapi_document_is_a_string_or_a_number() -> None:
    """The SDK's plain msgspec Amount (no Litestar annotation) plus the server's DecimalSchemaPlugin give
    the same schema as before, key order included: string | number, its description and example."""

    @post("/claims", sync_to_thread=False)
    def submit(data: Annotated[schemas.ClaimSubmission, Body()]) -> None:
        return None

    @post("/subscriptions", sync_to_thread=False)
    def start(data: Annotated[SubscriptionStartRequest, Body()]) -> None:
        return None

    app = Litestar([submit, start], plugins=[DecimalSchemaPlugin()])
    components = app.openapi_schema.to_schema()["components"]["schemas"]
    expected = (
        '{"type": ["string", "number"], "description": "Decimal amount as a JSON number or string; decoded exactly'
        ' (never as a float).", "examples": ["1250.00"]}'
    )
    assert json.dumps(components["ClaimSubmission"]["properties"]["claimAmount"]) == expected
    assert json.dumps(components["SubscriptionStartRequest"]["properties"]["amount"]) == expected
