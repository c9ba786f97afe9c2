"""The server's claim-facts index keeps enough amounts for every published rule set."""

from __future__ import annotations

from adapters.memory.claim_facts import AMOUNTS_KEPT
from ledger_core.claims.risk_rules import RULE_SETS


def test_every_rule_set_history_fits_in_what_the_index_keeps() -> None:
    assert all(params.amount_history_size + 1 <= AMOUNTS_KEPT for params in RULE_SETS.values())
