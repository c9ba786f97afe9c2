"""Request and response shapes of claim review and explanation (msgspec; camelCase like seed 000)."""

from __future__ import annotations

from typing import Any, Literal

from .common import Camel, Proof, Strict


class ReviewRequest(Strict):
    """An operations reviewer's decision on a flagged claim or a ``full`` claim awaiting review."""

    decision: Literal["verified", "rejected"]
    notes: str = ""


class ReviewResponse(Camel):
    """The claim after the review (``claim.review_resolved``) and the proof of that event (null if the seal is late)."""

    claim_id: str
    partner_id: str
    status: str
    reviewed_by: str
    proof: Proof | None


class ReplayCheckView(Camel):
    """One recorded verification beside its recomputation from the log (see docs/verification.md)."""

    verification_id: str
    position: int
    rule_set_version: str
    recorded: dict[str, Any]
    recomputed: dict[str, Any] | None
    decision_matches: bool
    recorded_inputs: dict[str, Any]
    rebuilt_inputs: dict[str, Any] | None
    inputs_match: bool
    problem: str | None
    matches: bool


class ExplainResponse(Camel):
    """Every verification of the claim recomputed from the log; ``matches`` when all of them agree."""

    claim_id: str
    matches: bool
    verifications: list[ReplayCheckView]
