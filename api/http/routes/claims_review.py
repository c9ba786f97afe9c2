"""The operations side of claims (scope ``operations`` only): review decisions and replayed explanations.

``POST /api/v1/operations/claims/{partner}/{claim_id}/review`` records a reviewer's decision on a flagged
claim or a ``full`` claim awaiting review (``claim.review_resolved``; the reviewer is the authenticated
operations principal). ``GET .../explain`` recomputes every verification of the claim from the log.
The path names the claim's partner; a claim of another partner is 404, like an unknown one.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import Parameter

from api.client.schemas.claims import ExplainResponse, ReplayCheckView, ReviewRequest, ReviewResponse
from api.http.routes.common import parse_uuid
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.claims.replay import ReplayCheck

OPS = {"scope": "operations"}
Partner = Annotated[str, Parameter(description="The partner whose claim this is.")]
ClaimId = Annotated[str, Parameter(description="The claim id (a UUID).")]
CLAIM_PATH = "/{partner:str}/{claim_id:str}"


def explain_response(claim_id: str, checks: list[ReplayCheck]) -> ExplainResponse:
    return ExplainResponse(
        claim_id=claim_id,
        matches=bool(checks) and all(check.matches for check in checks),
        verifications=[
            ReplayCheckView(
                verification_id=check.verification_id,
                position=check.position,
                rule_set_version=check.rule_set_version,
                recorded=check.recorded,
                recomputed=check.recomputed,
                decision_matches=check.decision_matches,
                recorded_inputs=check.recorded_inputs,
                rebuilt_inputs=check.rebuilt_inputs,
                inputs_match=check.inputs_match,
                problem=check.problem,
                matches=check.matches,
            )
            for check in checks
        ],
    )


class OperationsClaimsController(Controller):
    path = "/operations/claims"
    tags = ("operations",)

    @post(
        CLAIM_PATH + "/review",
        opt=OPS,
        summary="Record a reviewer's decision on a claim",
        description=(
            "For a flagged claim, or a claim submitted at verificationLevel full that awaits review:"
            " `verified` or `rejected`, recorded as claim.review_resolved with the operations principal as"
            " reviewer. 409 INVALID_STATE_TRANSITION for any other claim. 200 with the proof of the event,"
            " 202 with a null proof when the seal is late."
        ),
        status_code=200,
    )
    async def review(
        self, partner: Partner, claim_id: ClaimId, data: ReviewRequest, runtime: Runtime, partner_id: str
    ) -> Response[ReviewResponse]:
        claim_uuid = parse_uuid(claim_id, "claim")
        state = await run_blocking(
            lambda: runtime.operations.review_claim(
                partner, claim_uuid, decision=data.decision, reviewer=partner_id, notes=data.notes
            )
        )
        evidence = await runtime.proof_when_sealed(state.head)
        body = ReviewResponse(
            claim_id=str(state.claim.id),
            partner_id=partner,
            status=state.claim.status.value,
            reviewed_by=str(state.claim.reviewed_by),
            proof=evidence,
        )
        return Response(body, status_code=200 if evidence is not None else 202)

    @get(CLAIM_PATH + "/explain", opt=OPS, summary="Recompute a claim's verifications from the log")
    async def explain(self, partner: Partner, claim_id: ClaimId, runtime: Runtime) -> ExplainResponse:
        claim_uuid = parse_uuid(claim_id, "claim")
        checks = await run_blocking(runtime.operations.explain_claim, partner, claim_uuid)
        return explain_response(str(claim_uuid), checks)
