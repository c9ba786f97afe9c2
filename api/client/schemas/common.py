"""Request and response shapes of the HTTP API: msgspec Structs in camelCase, never domain objects.

Money: ``claimAmount`` is accepted as a JSON number or a decimal string and decoded straight into a
``Decimal`` from the JSON text (msgspec never goes through a binary float), then validated by the
domain (``ledger_core.shared.money.parse_amount``); responses always carry it as a decimal string.

These shapes are the SDK's and the server's routes use them too; they need msgspec only, so the SDK
installs without Litestar (the server adds what its OpenAPI document needs: ``api.http.openapi``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Final, Literal

import msgspec

Sha256Hex = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$", description="SHA-256, 64 lowercase hex digits")]
Amount = Annotated[
    Decimal,
    msgspec.Meta(
        description="Decimal amount as a JSON number or string; decoded exactly (never as a float).",
        examples=["1250.00"],
    ),
]
"""Money in a request. The server's OpenAPI document types every ``Decimal`` as ``string | number``
(``api.http.openapi.DecimalSchemaPlugin``): these shapes stay plain msgspec, so the SDK needs no Litestar."""
ClaimTypeName = Literal["auto", "property", "health", "liability"]
CurrencyCode = Literal["USD", "EUR", "GBP"]
DocumentTypeName = Literal["photo", "pdf", "form"]
LevelName = Literal["standard", "enhanced", "full"]
StatusName = Literal["submitted", "verified", "pending", "flagged", "rejected"]


class Camel(msgspec.Struct, rename="camel"):
    """Base of every schema: camelCase JSON names."""


class Strict(Camel, forbid_unknown_fields=True):
    """Base of request bodies: unknown fields are refused (a typo is an error, not silently ignored)."""


class ClaimDocumentBody(Strict):
    """A document referenced by a claim (seed 000 section 5.1)."""

    type: DocumentTypeName
    hash: Sha256Hex
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class ClaimSubmission(Strict):
    """Seed 000 section 5.1. ``partnerId`` must be the caller's partner id (it may be omitted)."""

    partner_claim_id: str
    claim_type: ClaimTypeName
    claim_amount: Amount
    currency: CurrencyCode
    submitted_at: str
    documents: list[ClaimDocumentBody]
    verification_level: LevelName
    partner_id: str | None = None


INCLUSION_PROOF_FORMAT: Final = "proveniq-ledger/inclusion-proof/v1"
CONSISTENCY_PROOF_FORMAT: Final = "proveniq-ledger/consistency-proof/v1"


class InclusionProofDocument(Camel, kw_only=True):
    """The inclusion proof document, the same from every producer (docs/proofs.md, "The proof document
    format"; JSON Schema at ``/schema/proof-document.schema.json``).

    ``leafHash`` is the entry's RFC 9162 leaf hash, SHA-256(0x00 || entry); ``entry`` is the entry's exact
    bytes (base64); ``inclusionPath`` proves leaf ``leafIndex`` in the tree of ``treeSize`` leaves whose
    root ``merkleRoot`` the signed ``checkpoint`` note states (verify it with the public key).
    """

    format: Literal["proveniq-ledger/inclusion-proof/v1"] = INCLUSION_PROOF_FORMAT
    leaf_index: int
    tree_size: int
    leaf_hash: str
    inclusion_path: list[str]
    entry: str
    checkpoint: str
    merkle_root: str
    ledger_event_id: str
    timestamp: str


class Proof(InclusionProofDocument, kw_only=True):
    """Proof that the claim's ledger event is in the log (seed 5.2 plus what offline verification needs):
    the inclusion proof document, plus ``hash``, its former name of ``leafHash`` (deprecated, same value,
    still served for SDKs older than the document format)."""

    hash: Annotated[str, msgspec.Meta(description="Deprecated: the same value as leafHash.")]


INCLUSION_PROMISE_FORMAT: Final = "proveniq-ledger/inclusion-promise/v1"


class InclusionPromiseDocument(Camel, kw_only=True):
    """A signed promise of inclusion, answered at commit to ``Prefer: respond-async`` (docs/proofs.md,
    "Signed promises of inclusion"; like an RFC 6962 §3.2 SCT): the log's Ed25519 signature, with its
    checkpoint key, over the entry's ``leafIndex``, ``leafHash`` (hex) and ``timestamp`` (ms since the
    epoch). Check it offline with :func:`proofs.promise.verify_promise`; the proof fetched later must
    show the same leaf index and leaf hash (:func:`proofs.promise.check_kept`)."""

    format: Literal["proveniq-ledger/inclusion-promise/v1"] = INCLUSION_PROMISE_FORMAT
    origin: str
    leaf_index: int
    leaf_hash: str
    timestamp: int
    signature: Annotated[str, msgspec.Meta(description="base64(4-byte key hash || Ed25519 signature).")]


class RiskAssessment(Camel):
    score: int
    level: Literal["low", "medium", "high"]
    factors: list[str]
    explanation: str


class VerificationResponse(Camel, omit_defaults=True):
    """Seed 000 section 5.2. ``proof`` is null when the event was not sealed within the wait (202), or when
    the client asked not to wait (``Prefer: respond-async``): then ``promise`` holds the signed promise."""

    verification_id: str | None
    claim_id: str
    status: StatusName
    proof: Proof | None
    partner_claim_id: str
    rule_set_version: str | None = None
    factors: list[str] = msgspec.field(default_factory=list)
    explanation: str | None = None
    risk_assessment: RiskAssessment | None = None
    promise: InclusionPromiseDocument | None = None


class VerificationView(Camel):
    verification_id: str
    status: str
    rule_set_version: str
    factors: list[str]
    explanation: str
    risk_assessment: RiskAssessment | None = None


class ClaimView(Camel):
    """A claim as stored: what was submitted and where it stands."""

    claim_id: str
    partner_id: str
    partner_claim_id: str
    claim_type: str
    claim_amount: str
    currency: str
    submitted_at: str
    documents: list[ClaimDocumentBody]
    verification_level: str
    status: StatusName
    verifications: list[VerificationView]
    version: int


class LogEntry(Camel):
    """One log entry visible to its partner: the envelope's fields and its exact bytes (base64)."""

    position: int
    ledger_event_id: str
    type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    aggregate_prev_position: int | None
    recorded_at: str
    leaf_hash: str
    payload: dict[str, Any]
    entry: str


class ClaimEvents(Camel):
    claim_id: str
    data: list[LogEntry]


class LogPage(msgspec.Struct):
    """A Stripe-style page: ``starting_after`` = the last ``position`` seen."""

    data: list[LogEntry]
    has_more: bool


class AuditProof(InclusionProofDocument, kw_only=True):
    """Inclusion proof document of one of the caller's entries against a signed checkpoint."""


class ConsistencyResponse(Camel, kw_only=True):
    """The consistency proof document: RFC 9162 consistency between two signed checkpoints
    (``fromCheckpoint`` null for size 0)."""

    format: Literal["proveniq-ledger/consistency-proof/v1"] = CONSISTENCY_PROOF_FORMAT
    from_size: int
    to_size: int
    consistency_path: list[str]
    from_checkpoint: str | None
    to_checkpoint: str


class DocumentResponse(Camel):
    """A registered document: the ledger keeps its SHA-256 and metadata, never its bytes."""

    document_id: str
    hash: str
    type: DocumentTypeName
    media_type: str
    size_bytes: int
    metadata: dict[str, str]
    created: bool


class TokenRequest(msgspec.Struct, forbid_unknown_fields=False):
    """RFC 6749 section 4.4.2 (JSON or form body); client credentials here or in HTTP Basic."""

    grant_type: str
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None


class TokenResponse(msgspec.Struct):
    """RFC 6749 section 5.1: an RFC 9068 JWT access token."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str


class ErrorDetail(msgspec.Struct, rename="camel"):
    code: str
    message: str
    details: dict[str, Any]
    request_id: str
    documentation: str


class ErrorResponse(msgspec.Struct):
    """Seed 000 section 7.1: every error response has this body."""

    error: ErrorDetail


class Health(Camel):
    status: str


class Readiness(Camel):
    status: str
    database: str
    log_size: int
    sealed_size: int
    seal_lag: int
    sealer: str
