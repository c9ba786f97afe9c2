"""Errors of the claims context. Each carries its evidence as attributes and in ``details``."""

from __future__ import annotations

from ledger_core.shared.errors import IdempotencyConflict


class DuplicateClaim(IdempotencyConflict):
    """The partner already submitted ``partner_claim_id`` with a different payload."""

    code = "DUPLICATE_CLAIM"

    def __init__(self, claim_id: str, partner_id: str, partner_claim_id: str, differing_fields: list[str]) -> None:
        super().__init__("claim", claim_id, differing_fields, partner_id=partner_id, partner_claim_id=partner_claim_id)
        self.claim_id = claim_id
        self.partner_id = partner_id
        self.partner_claim_id = partner_claim_id


class DocumentConflict(IdempotencyConflict):
    """The partner already registered this SHA-256 with different declared attributes."""

    code = "DOCUMENT_CONFLICT"

    def __init__(self, document_id: str, sha256: str, differing_fields: list[str]) -> None:
        super().__init__("document", document_id, differing_fields, sha256=sha256)
        self.document_id = document_id
        self.sha256 = sha256
