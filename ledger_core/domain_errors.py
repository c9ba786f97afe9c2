"""Domain errors beyond :mod:`ledger_core.errors`. Each carries its evidence as attributes and in ``details``.

Evidence never includes personal plaintext: errors about personal fields name the field, not the value.
"""

from __future__ import annotations

from typing import Any

from ledger_core.errors import LedgerError


class IdempotencyConflict(LedgerError):
    """A create with an existing natural key but a different payload (an identical one is a no-op)."""

    code = "IDEMPOTENCY_CONFLICT"

    def __init__(self, kind: str, identifier: str, differing_fields: list[str], **details: Any) -> None:
        super().__init__(
            f"{kind} {identifier} already exists with different {', '.join(differing_fields)}",
            kind=kind,
            id=identifier,
            differing_fields=differing_fields,
            **details,
        )
        self.kind = kind
        self.identifier = identifier
        self.differing_fields = differing_fields


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


class NotEligible(LedgerError):
    """A member fails an eligibility rule (``rule`` names it, e.g. ``age_18_plus``, ``state_allowed``)."""

    code = "NOT_ELIGIBLE"

    def __init__(self, partner_member_id: str, rule: str, message: str, **evidence: Any) -> None:
        super().__init__(message, partner_member_id=partner_member_id, rule=rule, **evidence)
        self.partner_member_id = partner_member_id
        self.rule = rule


class ReminderNotApplicable(LedgerError):
    """The reminder makes no sense for the member now (e.g. an enrollment reminder after enrolling)."""

    code = "REMINDER_NOT_APPLICABLE"

    def __init__(self, partner_member_id: str, reminder_type: str, reason: str) -> None:
        super().__init__(reason, partner_member_id=partner_member_id, reminder_type=reminder_type)
        self.partner_member_id = partner_member_id
        self.reminder_type = reminder_type
        self.reason = reason


class SealedValueInvalid(LedgerError):
    """A sealed value failed authentication: tampered, or moved to another subject or field."""

    code = "SEALED_VALUE_INVALID"

    def __init__(self, subject: str, field: str) -> None:
        super().__init__(f"sealed {field} of {subject} failed authentication", subject=subject, field=field)
        self.subject = subject
        self.field = field
