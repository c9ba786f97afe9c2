"""Cross-claim facts for the risk rules (the ``ClaimFacts`` port), derived from the log."""

from adapters.claim_facts.log_index import LogDerivedClaimFacts

__all__ = ["LogDerivedClaimFacts"]
