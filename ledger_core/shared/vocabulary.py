"""Closed vocabularies from the two specifications (seed 000: claims; seed 001: Fair Underwriting).

Enum values are the exact strings written to the log and accepted from partners. Where a seed spells a
value with capitals (feed ``policy_type`` "Life", ``gender`` "M"), the value keeps that spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from ledger_core.shared.money import Currency

__all__ = [
    "ACTIONS",
    "OPERATIONS_SCOPE",
    "SCOPES",
    "TIER_LIMITS",
    "US_STATE_CODES",
    "WEBHOOK_EVENT_TYPES",
    "ClaimStatus",
    "ClaimType",
    "Currency",
    "DocumentType",
    "Gender",
    "HealthAction",
    "NpsKind",
    "PartnerCategory",
    "PartnerStatus",
    "PolicyType",
    "ReminderStatus",
    "ReminderType",
    "ResultType",
    "RiskLevel",
    "SubscriptionFrequency",
    "SubscriptionStatus",
    "Tier",
    "TierLimits",
    "VerificationLevel",
]


class PartnerCategory(StrEnum):
    """Seed 000 §2.1."""

    INSURANCE_CARRIER = "insurance_carrier"
    TPA = "tpa"
    CLAIMS_SOFTWARE = "claims_software"
    DOCUMENT_PROVIDER = "document_provider"
    FRAUD_DETECTION = "fraud_detection"
    OPERATIONS = "operations"
    """Not a partner: Proveniq's own operations staff and systems (the only holders of :data:`OPERATIONS_SCOPE`)."""


class PartnerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tier(StrEnum):
    """Seed 000 §4.3 rate-limit tiers."""

    SANDBOX = "sandbox"
    STANDARD = "standard"
    ENTERPRISE = "enterprise"


@dataclass(frozen=True, slots=True)
class TierLimits:
    """Rate limits of a tier; ``daily_quota`` None means no daily cap."""

    requests_per_minute: int
    burst: int
    daily_quota: int | None


# Requests/min and burst are seed 000 §4.3. Daily quotas are ours: seed 001 §3.5 pairs 100/min with
# 10,000/day, which we give to sandbox (also 100/min); standard gets the same 100x ratio (100,000/day);
# enterprise has no daily cap (its per-minute limit already bounds it).
TIER_LIMITS: MappingProxyType[Tier, TierLimits] = MappingProxyType(
    {
        Tier.SANDBOX: TierLimits(100, 20, 10_000),
        Tier.STANDARD: TierLimits(1_000, 100, 100_000),
        Tier.ENTERPRISE: TierLimits(10_000, 500, None),
    }
)


class ClaimType(StrEnum):
    AUTO = "auto"
    PROPERTY = "property"
    HEALTH = "health"
    LIABILITY = "liability"


class DocumentType(StrEnum):
    PHOTO = "photo"
    PDF = "pdf"
    FORM = "form"


class VerificationLevel(StrEnum):
    STANDARD = "standard"
    ENHANCED = "enhanced"
    FULL = "full"


class ClaimStatus(StrEnum):
    """``submitted`` is the ledger's initial state; the other four are seed 000 §5.2 statuses."""

    SUBMITTED = "submitted"
    PENDING = "pending"
    VERIFIED = "verified"
    FLAGGED = "flagged"
    REJECTED = "rejected"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# The 50 states, DC, and the five inhabited territories (PR, GU, VI, AS, MP): the feed's "U.S. state"
# (seed 001 §2.2) is a postal code, and policyholders in territories are U.S. policyholders.
US_STATE_CODES: frozenset[str] = frozenset(
    {
        *("AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY"),
        *("LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND"),
        *("OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY"),
        *("DC", "PR", "GU", "VI", "AS", "MP"),
    }
)


class PolicyType(StrEnum):
    LIFE = "Life"
    HEALTH = "Health"
    DISABILITY = "Disability"


class Gender(StrEnum):
    MALE = "M"
    FEMALE = "F"
    OTHER = "O"


class ResultType(StrEnum):
    """Alpha-1 antitrypsin genotypes (seed 001 §2.3). Never stored in plaintext."""

    MM = "MM"
    MZ = "MZ"
    MS = "MS"
    SZ = "SZ"
    ZZ = "ZZ"


class SubscriptionStatus(StrEnum):
    """API spelling (seed 001 §3.3, lower case); :attr:`feed_value` is the feed spelling (§2.3)."""

    NONE = "none"
    ACTIVE = "active"
    CANCELLED = "cancelled"

    @property
    def feed_value(self) -> str:
        return self.value.capitalize()


class SubscriptionFrequency(StrEnum):
    ANNUAL = "annual"
    MONTHLY = "monthly"


class NpsKind(StrEnum):
    OVERALL = "overall"
    COUNSELING = "counseling"


class HealthAction(StrEnum):
    """Follow-up actions reported after a result; the first two are the outcome feed's action rates."""

    SMOKING_CESSATION = "smoking_cessation"
    DOCTOR_VISIT = "doctor_visit"
    LUNG_FUNCTION_TEST = "lung_function_test"
    LIVER_FUNCTION_TEST = "liver_function_test"
    FAMILY_TESTING = "family_testing"
    ALCOHOL_REDUCTION = "alcohol_reduction"


ACTIONS: frozenset[str] = frozenset(action.value for action in HealthAction)


class ReminderType(StrEnum):
    """What a reminder nudges the policyholder to do (seed 001 §3.3 endpoint 4 names ``enrollment``)."""

    ENROLLMENT = "enrollment"
    KIT = "kit"
    SAMPLE = "sample"
    COUNSELING = "counseling"
    SUBSCRIPTION = "subscription"


class ReminderStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    CANCELLED = "cancelled"


# Partner-facing event types a webhook endpoint may subscribe to (seed 000 §3.3, seed 001 §4.3).
WEBHOOK_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "claim.verified",
        "claim.fraud_detected",
        "proof.generated",
        "audit.alert",
        "enrollment.completed",
        "sample.received",
        "result.delivered",
        "subscription.started",
        "subscription.cancelled",
    }
)

OPERATIONS_SCOPE = "operations"
"""The scope of the operations side (enrollment lifecycle, reviews, erasure, webhook recovery): held only by
principals of category ``operations``, which hold nothing else; never granted to a partner."""

# API scopes a partner may be granted (resource:action), matching seed 000 §4.1 and seed 001 §3.3.
SCOPES: frozenset[str] = frozenset(
    {
        "claims:read",
        "claims:write",
        "documents:read",
        "documents:write",
        "audit:read",
        "eligibility:read",
        "eligibility:write",
        "enrollments:read",
        "outcomes:read",
        "reminders:write",
        "webhooks:manage",
    }
)
