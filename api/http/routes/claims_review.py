"""The operations side of claims (scope ``operations`` only): review decisions and replayed explanations.

``POST /api/v1/operations/claims/{partner}/{claim_id}/review`` records a reviewer's decision on a flagged
claim or a ``full`` claim awaiting review (``claim.review_resolved``; the reviewer is the authenticated
operations principal). ``GET .../explain`` recomputes every verification of the claim from the log.
The path names the claim's partner; a claim of another partner is 404, like an unknown one.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from api.client.schemas.claims import ExplainResponse, ReviewRequest, ReviewResponse
from api.http import views
from api.http.routes.common import parse_uuid
from api.http.threads import run_blocking
from api.runtime import Runtime

OPS = {"scope": "operations"}
Partner = Annotated[str, PathParameter(description="The partner whose claim this is.")]
ClaimId = Annotated[str, PathParameter(description="The claim id (a UUID).")]
CLAIM_PATH = "/{partner:str}/{claim_id:str}"


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
        self,
        partner: Partner,
        claim_id: ClaimId,
        data: JSONBody[ReviewRequest],
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
    ) -> Response[ReviewResponse]:
        claim_uuid = parse_uuid(claim_id, "claim")
        outcome = await run_blocking(
            lambda: runtime.ledger.claims.review(
                claim_uuid, partner, decision=data.decision, reviewer=partner_id, notes=data.notes
            )
        )
        evidence = views.sealed_proof(await runtime.proof_wait.proof_when_sealed(outcome.head))
        body = ReviewResponse(
            claim_id=str(outcome.claim_id),
            partner_id=partner,
            status=outcome.status.value,
            reviewed_by=str(outcome.claim.reviewed_by),
            proof=evidence,
        )
        return Response(body, status_code=200 if evidence is not None else 202)

    @get(CLAIM_PATH + "/explain", opt=OPS, summary="Recompute a claim's verifications from the log")
    async def explain(self, partner: Partner, claim_id: ClaimId, runtime: NamedDependency[Runtime]) -> ExplainResponse:
        claim_uuid = parse_uuid(claim_id, "claim")
        checks = await run_blocking(runtime.ledger.claims.explain, claim_uuid, partner)
        return views.explain_response(str(claim_uuid), checks)
