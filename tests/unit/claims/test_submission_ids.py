"""A claim's id as text (``ClaimSubmission.claim_id_text``, what the bulk import derives per line) is the id
``ClaimSubmission.claim_id`` writes."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ledger_core.claims.submission import ClaimSubmission
from ledger_core.shared.money import Currency
from ledger_core.shared.vocabulary import ClaimType, VerificationLevel

texts = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)


@given(texts, texts)
def test_a_claim_id_as_text_is_the_claim_id_written(partner_id: str, partner_claim_id: str) -> None:
    submission = ClaimSubmission(
        partner_id,
        partner_claim_id,
        ClaimType.AUTO,
        Decimal("1.00"),
        Currency.USD,
        "2025-06-01T10:00:00Z",
        (),
        VerificationLevel.STANDARD,
    )
    assert submission.claim_id_text == str(submission.claim_id)
