"""Errors of the members context. Evidence never includes personal plaintext: errors about personal
fields name the field, not the value."""

from __future__ import annotations

from typing import Any

from ledger_core.engine.errors import LedgerError


class NotEligible(LedgerError):
    """A member fails an eligibility rule (``rule`` names it, e.g. ``age_18_plus``, ``state_allowed``)."""

    code = "NOT_ELIGIBLE"

    def __init__(self, partner_member_id: str, rule: str, message: str, **evidence: Any) -> None:
        super().__init__(message, partner_member_id=partner_member_id, rule=rule, **evidence)
        self.partner_member_id = partner_member_id
        self.rule = rule


class ConsentRequired(LedgerError):
    """A member asked to enroll without giving consent to testing (seed section 2: enrollment is by consent)."""

    code = "CONSENT_REQUIRED"

    def __init__(self, partner_member_id: str) -> None:
        super().__init__("consent is required to enroll", partner_member_id=partner_member_id)
        self.partner_member_id = partner_member_id


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


class PersonalDataErased(LedgerError):
    """The subject's data key was destroyed (crypto-shredding); the plaintext is gone for good."""

    code = "PERSONAL_DATA_ERASED"

    def __init__(self, subject: str) -> None:
        super().__init__(f"personal data of {subject} has been erased", subject=subject)
        self.subject = subject


class MemberNotFound(LedgerError):
    """What a command about the partner's member needs does not exist: the member itself (unknown, or
    erased and so forgotten), or (the subclasses) its enrollment or its subscription. Named by the
    partner's own member id, as the partner knows it."""

    code = "MEMBER_NOT_FOUND"
    kind = "member"

    def __init__(self, partner_member_id: str, message: str | None = None, **evidence: Any) -> None:
        super().__init__(message or f"{self.kind} not found", partner_member_id=partner_member_id, **evidence)
        self.partner_member_id = partner_member_id


class EnrollmentNotFound(MemberNotFound):
    """The member has not enrolled."""

    code = "ENROLLMENT_NOT_FOUND"
    kind = "enrollment"


class SubscriptionNotFound(MemberNotFound):
    """The member has no subscription."""

    code = "SUBSCRIPTION_NOT_FOUND"
    kind = "subscription"


class MemberNotEligible(LedgerError):
    """A reminder's member is unknown, erased or not eligible (``rule`` names the rule that failed)."""

    code = "MEMBER_NOT_ELIGIBLE"

    def __init__(self, partner_member_id: str, reason: str, rule: str | None) -> None:
        super().__init__(reason, partner_member_id=partner_member_id, eligible=False, rule=rule)
        self.partner_member_id = partner_member_id
        self.rule = rule
