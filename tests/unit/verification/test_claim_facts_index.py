"""ClaimFactsIndex: answers as of a log position, the claim itself left out, windows and limits respected."""

from __future__ import annotations

from typing import Any

import pytest

from ledger_core.claims.facts import CLAIM_SUBMITTED, DOCUMENT_REGISTERED, ClaimFactsIndex, FactsQuery, claim_reference

H1, H2 = "1" * 64, "2" * 64


def submitted(amount: str, hashes: tuple[str, ...] = (), policy: str | None = None, day: int = 1) -> dict[str, Any]:
    metadata = {} if policy is None else {"policyReference": policy}
    return {
        "documents": [{"type": "photo", "hash": h, "metadata": metadata} for h in hashes],
        "claim_type": "auto",
        "currency": "USD",
        "claim_amount": amount,
        "submitted_at": f"2026-03-{day:02d}T10:00:00.000000Z",
    }


def query(claim_id: str = "me", partner: str = "acme", **overrides: Any) -> FactsQuery:
    base: dict[str, Any] = {
        "claim_id": claim_id,
        "partner_id": partner,
        "claim_type": "auto",
        "currency": "USD",
        "hashes": (H1,),
        "reference": ("policyReference", "POL-1"),
        "submitted_at": "2026-03-10T10:00:00.000000Z",
        "history_size": 3,
        "velocity_window_seconds": 5 * 86_400,
    }
    return FactsQuery(**{**base, **overrides})


@pytest.fixture
def index() -> ClaimFactsIndex:
    built = ClaimFactsIndex()
    built.feed(0, DOCUMENT_REGISTERED, "d1", "acme", {"sha256": H1, "document_type": "photo", "metadata": {"a": "1"}})
    built.feed(1, CLAIM_SUBMITTED, "c1", "acme", submitted("100.00", (H1,), "POL-1", day=8))
    built.feed(2, CLAIM_SUBMITTED, "c2", "rival", submitted("200.00", (H1,), "POL-1", day=9))
    built.feed(3, "partner.registered", "p", None, {})
    built.feed(4, CLAIM_SUBMITTED, "c3", "acme", submitted("300.00", (), "POL-1", day=1))
    built.feed(5, CLAIM_SUBMITTED, "c4", "acme", submitted("400.00", (H2,)))
    built.feed(6, CLAIM_SUBMITTED, "me", "acme", submitted("500.00", (H1,), "POL-1", day=10))
    return built


def test_everything_fed_so_far(index: ClaimFactsIndex) -> None:
    """Usage counts other claims (and other partners'), the claim itself left out; the history is the last N."""
    answer = index.snapshot(query())
    assert answer.as_of == 7
    assert answer.registrations[H1].document_type == "photo"
    assert (answer.usage[H1].other_claims, answer.usage[H1].other_partner_claims) == (2, 1)
    assert answer.amounts == ("100.00", "300.00", "400.00")
    assert answer.reference_claims == 1  # c1 (2 days before); c2 is another partner's, c3 is 9 days away


def test_as_of_sees_only_earlier_entries(index: ClaimFactsIndex) -> None:
    """A snapshot as of position 2 ignores everything from position 2 on."""
    answer = index.snapshot(query(), as_of=2)
    assert answer.as_of == 2
    assert answer.usage[H1].other_claims == 1
    assert answer.amounts == ("100.00",)
    assert index.snapshot(query(), as_of=0).registrations == {}


def test_other_partners_registrations_are_not_the_callers(index: ClaimFactsIndex) -> None:
    """Registrations are per partner."""
    assert index.snapshot(query(partner="rival")).registrations == {}
    assert index.claims_listing("acme", H1) == ["c1", "me"]


def test_a_repeated_submission_entry_counts_once_and_order_is_enforced(index: ClaimFactsIndex) -> None:
    """A claim's first claim.submitted is its fact; positions must increase."""
    index.feed(7, CLAIM_SUBMITTED, "c1", "acme", submitted("999.00", (H1,)))
    assert index.snapshot(query()).usage[H1].other_claims == 2
    with pytest.raises(ValueError, match="fed after"):
        index.feed(3, CLAIM_SUBMITTED, "late", "acme", submitted("1.00"))


def test_reference_is_the_first_policy_then_claimant_key() -> None:
    """policyReference wins over claimantReference; document order decides between documents."""
    docs = [{"metadata": {"claimantReference": "C-1"}}, {"metadata": {"policyReference": "P-1"}}]
    assert claim_reference(docs) == ("policyReference", "P-1")
    assert claim_reference(docs[:1]) == ("claimantReference", "C-1")
    assert claim_reference([{"metadata": {}}]) is None


def _claims(index: ClaimFactsIndex, count: int, start: int = 0) -> None:
    for number in range(start, start + count):
        digest = f"{number:064x}"
        index.feed(
            2 * number,
            DOCUMENT_REGISTERED,
            f"d{number}",
            "acme",
            {"sha256": digest, "document_type": "photo", "metadata": {}},
        )
        index.feed(2 * number + 1, CLAIM_SUBMITTED, f"c{number}", "acme", submitted(f"{100 + number}.00", (digest,)))


def test_amount_series_stay_bounded_and_answer_as_the_whole_index_does() -> None:
    """With ``amounts_kept`` each amount series holds at most twice that many entries after any number of
    claims, and every question as of the index's size gets the answer of an index that kept everything."""
    bounded, whole = ClaimFactsIndex(amounts_kept=5), ClaimFactsIndex()
    for start in range(0, 1_000, 100):
        _claims(bounded, 100, start)
        _claims(whole, 100, start)
        assert bounded.footprint()["amounts"] <= 10
        probe = query(claim_id=f"c{start + 99}", hashes=(f"{start + 99:064x}",), history_size=4)
        assert bounded.snapshot(probe) == whole.snapshot(probe)
    assert bounded.footprint() == {**whole.footprint(), "amounts": bounded.footprint()["amounts"]}
    assert whole.footprint()["amounts"] == 1_000


def test_a_question_about_amounts_let_go_is_refused_not_answered_differently() -> None:
    bounded = ClaimFactsIndex(amounts_kept=5)
    _claims(bounded, 100)
    assert len(bounded.snapshot(query(history_size=4), as_of=200).amounts) == 4
    with pytest.raises(ValueError, match="no longer kept"):
        bounded.snapshot(query(history_size=4), as_of=20)


def test_hashes_in_any_spelling_stay_distinct() -> None:
    """Lowercase hex SHA-256 is keyed by its bytes; any other text by itself (never merged with it)."""
    lower, upper, odd = "ab" * 32, "AB" * 32, "not-a-hash"
    index = ClaimFactsIndex()
    index.feed(0, CLAIM_SUBMITTED, "c1", "acme", submitted("1.00", (lower,)))
    index.feed(1, CLAIM_SUBMITTED, "c2", "acme", submitted("1.00", (upper, odd)))
    answer = index.snapshot(query(hashes=(lower, upper, odd)))
    assert {digest: usage.other_claims for digest, usage in answer.usage.items()} == {lower: 1, upper: 1, odd: 1}
    assert index.claims_listing("acme", upper) == ["c2"]
    assert index.footprint()["hashes"] == 3
