"""Vocabularies match the seeds."""

from __future__ import annotations

from ledger_core.shared.vocabulary import (
    TIER_LIMITS,
    US_STATE_CODES,
    ClaimStatus,
    Gender,
    PartnerCategory,
    PolicyType,
    ResultType,
    SubscriptionStatus,
    Tier,
    TierLimits,
)


def test_tier_limits() -> None:
    """Requests/min and burst follow seed 000 §4.3; daily quotas are 10k, 100k and unlimited."""
    assert TIER_LIMITS[Tier.SANDBOX] == TierLimits(100, 20, 10_000)
    assert TIER_LIMITS[Tier.STANDARD] == TierLimits(1_000, 100, 100_000)
    assert TIER_LIMITS[Tier.ENTERPRISE] == TierLimits(10_000, 500, None)


def test_state_codes() -> None:
    """50 states + DC + 5 territories; nothing else."""
    assert len(US_STATE_CODES) == 56
    assert {"IA", "TX", "DC", "PR", "GU", "VI", "AS", "MP"} <= US_STATE_CODES
    assert "XX" not in US_STATE_CODES
    assert "ia" not in US_STATE_CODES


def test_seed_spellings() -> None:
    """Enum values are the seeds' exact spellings (plus ``operations``: our own staff, not a seed partner)."""
    assert [c.value for c in PartnerCategory] == [
        "insurance_carrier",
        "tpa",
        "claims_software",
        "document_provider",
        "fraud_detection",
        "operations",
    ]
    assert [p.value for p in PolicyType] == ["Life", "Health", "Disability"]
    assert [g.value for g in Gender] == ["M", "F", "O"]
    assert [r.value for r in ResultType] == ["MM", "MZ", "MS", "SZ", "ZZ"]
    assert [s.value for s in ClaimStatus] == ["submitted", "pending", "verified", "flagged", "rejected"]


def test_subscription_status_spellings() -> None:
    """API values are lower case; the feed spelling is capitalized."""
    assert [s.feed_value for s in SubscriptionStatus] == ["None", "Active", "Cancelled"]
