"""Each risk rule on its own, the score and level cut-offs, and the robust amount statistics."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_core.claims.risk_rules import (
    DECIMAL_CONTEXT,
    HIGH_FROM,
    MEDIUM_FROM,
    RULE_SETS,
    RULES,
    RuleParameters,
    amount_outlier,
    assess,
    document_reuse,
    log_amount_summary,
    metadata_inconsistent,
    risk_level,
    submitted_in_future,
    submitted_late,
    velocity_burst,
)
from ledger_core.claims.verification_inputs import AmountHistory, DocumentEvidence, OtherPartners, VerificationInputs
from ledger_core.shared.vocabulary import RiskLevel

PARAMS = RULE_SETS["rules-v1"]
HASH = "ab" * 32


def document(**overrides: Any) -> DocumentEvidence:
    base: dict[str, Any] = {
        "hash": HASH,
        "type": "photo",
        "registered_type": "photo",
        "other_claims": 0,
        "other_partner_claims": 0,
        "metadata_conflicts": (),
    }
    return DocumentEvidence(**{**base, **overrides})


def inputs(**overrides: Any) -> VerificationInputs:
    base: dict[str, Any] = {
        "verification_level": "enhanced",
        "claim_type": "auto",
        "claim_amount": "1000.00",
        "currency": "USD",
        "submitted_at": "2026-03-01T10:00:00.000000Z",
        "received_at": "2026-03-01T10:00:05.000000Z",
        "evaluated_at": "2026-03-01T10:00:05.000000Z",
        "as_of_position": 10,
        "documents": (document(),),
        "amount_history": AmountHistory(0, None, None),
        "reference_key": None,
        "reference_claims": 0,
    }
    return VerificationInputs(**{**base, **overrides})


def history(amounts: list[str]) -> AmountHistory:
    median, mad = log_amount_summary(amounts)
    return AmountHistory(len(amounts), median, mad)


NORMAL = [str(Decimal(900 + 10 * i)) for i in range(30)]


def test_a_clean_claim_fires_nothing() -> None:
    """No rule fires on an ordinary claim: score 0, level low, the explanation says so."""
    result = assess(inputs(amount_history=history(NORMAL)), PARAMS)
    assert (result.score, result.level, result.factors) == (0, RiskLevel.LOW, [])
    assert result.explanation == "No risk rule fired."


def test_document_reuse_counts_other_claims_without_naming_them() -> None:
    """document_reused fires on any listed hash seen in another claim; the sentence has counts only."""
    assert document_reuse(inputs(), PARAMS) is None
    hit = document_reuse(inputs(documents=(document(other_claims=2, other_partner_claims=1),)), PARAMS)
    assert hit is not None
    assert (hit.code, hit.weight) == ("document_reused", 60)
    assert hit.sentence == "1 document(s) already appear in 2 other claim(s), 1 of them from other partners."


def test_rules_v2_tell_other_partners_only_as_some_and_only_with_possession() -> None:
    """rules-v2: the partner's own other claims by count; other partners' only as "some" (never a count),
    and a withheld answer (a hash the partner never uploaded) fires nothing."""
    v2 = RULE_SETS["rules-v2"]

    def evidence(own: int, others: OtherPartners) -> VerificationInputs:
        doc = document(own_other_claims=own, other_partners=others)
        return inputs(documents=(doc,))

    assert document_reuse(evidence(0, OtherPartners.NONE), v2) is None
    assert document_reuse(evidence(0, OtherPartners.WITHHELD), v2) is None
    foreign = document_reuse(evidence(0, OtherPartners.SOME), v2)
    assert foreign is not None
    assert foreign.sentence == "1 document(s) also appear in claims of other partners."
    both = document_reuse(evidence(3, OtherPartners.SOME), v2)
    assert both is not None
    assert both.sentence == (
        "1 document(s) already appear in 3 other claim(s) of this partner."
        " 1 document(s) also appear in claims of other partners."
    )
    assert (both.code, both.weight) == ("document_reused", 60)


@given(st.integers(0, 50), st.integers(0, 50), st.booleans())
def test_recorded_v1_evidence_round_trips_unchanged(others: int, foreign: int, registered: bool) -> None:
    """Inputs recorded under rules-v1 parse and serialise back to the same JSON (replay stays byte-identical)."""
    recorded = {
        "hash": HASH,
        "type": "photo",
        "registeredType": "photo" if registered else None,
        "otherClaims": others + foreign,
        "otherPartnerClaims": foreign,
        "metadataConflicts": ["claimAmount"],
    }
    assert DocumentEvidence.from_json(recorded).to_json() == recorded
    assert list(DocumentEvidence.from_json(recorded).to_json()) == list(recorded)


def test_amount_outlier_uses_robust_statistics_and_needs_history() -> None:
    """amount_outlier fires far above (or below) the median; not with too little history."""
    far = inputs(claim_amount="25000.00", amount_history=history(NORMAL))
    hit = amount_outlier(far, PARAMS)
    assert hit is not None
    assert hit.code == "amount_outlier"
    assert "far above" in hit.sentence
    assert amount_outlier(inputs(claim_amount="20.00", amount_history=history(NORMAL)), PARAMS) is not None
    assert amount_outlier(inputs(claim_amount="1100.00", amount_history=history(NORMAL)), PARAMS) is None
    short = inputs(claim_amount="25000.00", amount_history=history(NORMAL[:5]))
    assert amount_outlier(short, PARAMS) is None


def test_one_huge_amount_in_the_history_does_not_hide_the_next() -> None:
    """The median and MAD barely move with one extreme value in the history (unlike mean and deviation)."""
    polluted = history([*NORMAL, "5000000.00"])
    assert amount_outlier(inputs(claim_amount="25000.00", amount_history=polluted), PARAMS) is not None


def test_constant_history_uses_the_mad_floor() -> None:
    """A history of identical amounts has MAD 0; the floor keeps the z-score finite."""
    flat = history(["500.00"] * 25)
    assert flat.mad == "0.000000"
    assert amount_outlier(inputs(claim_amount="500.00", amount_history=flat), PARAMS) is None
    assert amount_outlier(inputs(claim_amount="800.00", amount_history=flat), PARAMS) is not None


def test_velocity_burst_fires_beyond_the_allowed_claims_per_reference() -> None:
    """velocity_burst fires when more than velocity_max_other_claims other claims share the reference."""
    assert velocity_burst(inputs(reference_key="policyReference", reference_claims=1), PARAMS) is None
    hit = velocity_burst(inputs(reference_key="policyReference", reference_claims=2), PARAMS)
    assert hit is not None
    assert hit.code == "velocity_burst"
    assert "policyReference" in hit.sentence
    assert velocity_burst(inputs(reference_key=None, reference_claims=5), PARAMS) is None


def test_submitted_in_future_has_a_tolerance() -> None:
    """submittedAt up to 5 minutes after receipt is clock skew; beyond, the rule fires."""
    skew = inputs(submitted_at="2026-03-01T10:04:00.000000Z", received_at="2026-03-01T10:00:00.000000Z")
    assert submitted_in_future(skew, PARAMS) is None
    future = inputs(submitted_at="2026-03-02T10:00:00.000000Z", received_at="2026-03-01T10:00:00.000000Z")
    hit = submitted_in_future(future, PARAMS)
    assert hit is not None
    assert hit.sentence == "submittedAt is 24 hours after the ledger received the claim."


def test_submitted_late_fires_after_a_year() -> None:
    """A claim reaching the ledger more than 365 days after submittedAt is implausibly late."""
    assert submitted_late(inputs(submitted_at="2025-04-01T10:00:00.000000Z"), PARAMS) is None
    hit = submitted_late(inputs(submitted_at="2024-12-01T10:00:00.000000Z"), PARAMS)
    assert hit is not None
    assert hit.code == "submitted_late"
    assert "455 days" in hit.sentence


def test_metadata_inconsistency_names_keys_never_values() -> None:
    """document_metadata_inconsistent lists the conflicting keys of all documents, sorted."""
    docs = (document(metadata_conflicts=("currency",)), document(hash="cd" * 32, metadata_conflicts=("claimType",)))
    hit = metadata_inconsistent(inputs(documents=docs), PARAMS)
    assert hit is not None
    assert hit.sentence.endswith("(claimType, currency).")
    assert metadata_inconsistent(inputs(), PARAMS) is None


def test_levels_follow_the_documented_cut_offs() -> None:
    """0..29 low, 30..59 medium, 60..100 high."""
    assert [risk_level(s) for s in (0, MEDIUM_FROM - 1, MEDIUM_FROM, HIGH_FROM - 1, HIGH_FROM, 100)] == [
        RiskLevel.LOW,
        RiskLevel.LOW,
        RiskLevel.MEDIUM,
        RiskLevel.MEDIUM,
        RiskLevel.HIGH,
        RiskLevel.HIGH,
    ]


def test_score_sums_weights_capped_at_100_in_rule_order() -> None:
    """Several rules: the score adds their weights (at most 100); factors and sentences keep rule order."""
    many = inputs(
        documents=(document(other_claims=1, metadata_conflicts=("currency",)),),
        reference_key="claimantReference",
        reference_claims=3,
    )
    result = assess(many, PARAMS)
    assert result.factors == ["document_reused", "velocity_burst", "document_metadata_inconsistent"]
    assert result.score == 100
    assert result.level is RiskLevel.HIGH
    assert result.explanation == " ".join(hit.sentence for hit in result.hits)


def test_tuned_parameters_change_the_outcome() -> None:
    """Parameters are data: a stricter velocity limit fires earlier."""
    strict = dataclasses.replace(PARAMS, velocity_max_other_claims=0)
    assert velocity_burst(inputs(reference_key="policyReference", reference_claims=1), strict) is not None
    assert isinstance(PARAMS, RuleParameters)
    assert len(RULES) == 6


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999.99"), places=2)


@given(
    amount=amounts,
    past=st.lists(amounts, max_size=40),
    others=st.integers(0, 5),
    foreign=st.integers(0, 5),
    refs=st.integers(0, 6),
)
def test_assessment_is_deterministic_and_bounded(
    amount: Decimal, past: list[Decimal], others: int, foreign: int, refs: int
) -> None:
    """Same inputs, same assessment; the score is within 0..100 and the level matches the cut-offs."""
    case = inputs(
        claim_amount=str(amount),
        amount_history=history([str(value) for value in past]),
        documents=(document(other_claims=others, other_partner_claims=min(foreign, others)),),
        reference_key="policyReference",
        reference_claims=refs,
    )
    first, second = assess(case, PARAMS), assess(VerificationInputs.from_json(case.to_json()), PARAMS)
    assert first == second
    assert 0 <= first.score <= 100
    assert first.level is risk_level(first.score)


@pytest.mark.parametrize("values", [["100.00"], ["100.00", "400.00"], ["1.00", "2.00", "4.00"]])
def test_log_amount_summary_is_median_and_mad_of_ln(values: list[str]) -> None:
    """Median and MAD of ln(amount), six decimals."""
    import math
    import statistics

    logs = [math.log(float(v)) for v in values]
    median = statistics.median(logs)
    mad = statistics.median(abs(x - median) for x in logs)
    got_median, got_mad = log_amount_summary(values)
    assert got_median is not None
    assert got_mad is not None
    assert abs(float(got_median) - median) < 1e-6
    assert abs(float(got_mad) - mad) < 1e-6


def _summary_by_sorting(amounts: list[str]) -> tuple[str, str]:
    """The definition: sort ln(amount), take the median, sort the absolute deviations, take their median."""

    def median(ordered: list[Decimal]) -> Decimal:
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return DECIMAL_CONTEXT.divide(DECIMAL_CONTEXT.add(ordered[middle - 1], ordered[middle]), Decimal(2))

    logs = sorted(Decimal(amount).ln(DECIMAL_CONTEXT) for amount in amounts)
    centre = median(logs)
    spread = median(sorted(abs(DECIMAL_CONTEXT.subtract(value, centre)) for value in logs))
    places = Decimal("0.000001")
    return str(centre.quantize(places, context=DECIMAL_CONTEXT)), str(spread.quantize(places, context=DECIMAL_CONTEXT))


@given(st.lists(st.integers(min_value=1, max_value=500_000), min_size=1, max_size=80), st.integers(1, 25))
def test_log_amount_summary_of_moving_histories_equals_sorting_each(cents: list[int], size: int) -> None:
    """Histories that grow then slide by one amount (as consecutive claims see them) are summarised from the
    previous history's sorted logs: the same median and MAD as sorting each history afresh, repeats included."""
    amounts = [f"{value // 100}.{value % 100:02d}" for value in cents]
    for end in range(1, len(amounts) + 1):
        history = amounts[max(0, end - size) : end]
        assert log_amount_summary(history) == _summary_by_sorting(history)
