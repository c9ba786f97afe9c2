"""``/api/v1/claims``: submit (and verify), read, prove, re-verify, explain, list events (docs/verification.md)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, JSONBody, PathParameter

from api.client.schemas import common as schemas
from api.client.schemas.claims import ExplainResponse
from api.http import views
from api.http.errors import ApiError
from api.http.pipeline.content import amount_as_sent
from api.http.preferences import PREFERENCE_APPLIED, RESPOND_ASYNC, prefers_async
from api.http.routes.common import parse_uuid
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.claims.submission import ClaimSubmission, validate_submission
from ledger_core.claims.use_cases import ClaimOutcome
from ledger_core.engine.promises import InclusionPromises
from proofs.promise import InclusionPromise

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        description="Optional (IETF draft): same key + same request replays the stored response for 24 h.",
    ),
]
Prefer = Annotated[
    str | None,
    HeaderParameter(
        name="Prefer",
        required=False,
        description=(
            "RFC 7240: `respond-async` answers 202 at commit with a signed promise of inclusion instead of"
            " waiting for the seal (honoured when the server holds the checkpoint key: see"
            " Preference-Applied)."
        ),
    ),
]
ClaimId = Annotated[str, PathParameter(description="The claim id (a UUID) returned at submission.")]


def _submit_promised(
    runtime: Runtime, submission: ClaimSubmission, promises: InclusionPromises
) -> tuple[ClaimOutcome, InclusionPromise]:
    """Submit, then promise the inclusion of the claim's newest entry (one worker-thread hop for both)."""
    outcome = runtime.ledger.claims.submit(submission)
    return outcome, promises.promise(outcome.head)


def _status(created: bool, evidence: schemas.Proof | None) -> int:
    if evidence is None:
        return 202
    return 201 if created else 200


class ClaimsController(Controller):
    path = "/claims"
    tags = ("claims",)

    @post(
        "/",
        opt={"scope": "claims:write"},
        summary="Submit a claim for verification",
        description=(
            "Records the claim (seed 5.1) and its first verification at the requested verificationLevel"
            " (standard: documents registered with matching types; enhanced: plus the risk rules, a high"
            " score flags the claim; full: plus a manual review, the claim stays pending), then waits, at"
            " most the server's seal wait, for the events to be sealed: 201 with the inclusion proof for a"
            " new claim, 200 for an identical resubmission (the existing claim), 202 with a null proof when"
            " the seal did not come in time (fetch it later from /claims/{id}/proof). With `Prefer:"
            " respond-async` (RFC 7240 §4.1) it does not wait: 202 as soon as the events are committed, with"
            " `Preference-Applied: respond-async`, a `Link` to the proof and, in `promise`, the log's signed"
            " promise of inclusion (leaf index, leaf hash, timestamp; like an RFC 6962 SCT; docs/proofs.md)."
        ),
        status_code=201,
        response_headers=[
            ResponseHeader(
                name=PREFERENCE_APPLIED,
                description="`respond-async` when the answer is the 202 at commit with a signed promise (RFC 7240).",
                documentation_only=True,
            ),
            ResponseHeader(
                name="Link",
                description='With respond-async: `</api/v1/claims/{id}/proof>; rel="related"` (fetch the proof there).',
                documentation_only=True,
            ),
        ],
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[schemas.ClaimSubmission],
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        idempotency_key: IdempotencyKey = None,
        prefer: Prefer = None,
    ) -> Response[schemas.VerificationResponse]:
        if data.partner_id is not None and data.partner_id != partner_id:
            raise ApiError("PARTNER_MISMATCH", "partnerId must be the authenticated partner", field="partnerId")
        submission = validate_submission(
            partner_id=partner_id,
            partner_claim_id=data.partner_claim_id,
            claim_type=data.claim_type,
            claim_amount=amount_as_sent(request.scope, "claimAmount", data.claim_amount),
            currency=data.currency,
            submitted_at=data.submitted_at,
            documents=[{"type": d.type, "hash": d.hash, "metadata": d.metadata} for d in data.documents],
            verification_level=data.verification_level,
        )
        promises = runtime.promises
        if promises is not None and prefers_async(request.headers.getall("prefer", [])):
            outcome, promise = await run_blocking(_submit_promised, runtime, submission, promises)
            location = f"/api/v1/claims/{outcome.claim_id}"
            return Response(
                views.verification_response(outcome.claim, None, views.promise(promise)),
                status_code=202,
                headers={
                    "Location": location,
                    "Link": f'<{location}/proof>; rel="related"',
                    PREFERENCE_APPLIED: RESPOND_ASYNC,
                },
            )
        outcome = await run_blocking(runtime.ledger.claims.submit, submission)
        evidence = views.sealed_proof(await runtime.proof_wait.proof_when_sealed(outcome.head))
        return Response(
            views.verification_response(outcome.claim, evidence),
            status_code=_status(outcome.created, evidence),
            headers={"Location": f"/api/v1/claims/{outcome.claim_id}"},
        )

    @get("/{claim_id:str}", opt={"scope": "claims:read"}, summary="Get a claim and its status")
    async def read(
        self, claim_id: ClaimId, runtime: NamedDependency[Runtime], partner_id: NamedDependency[str]
    ) -> schemas.ClaimView:
        claim = await run_blocking(runtime.ledger.claims.view, parse_uuid(claim_id, "claim"), partner_id)
        return views.claim_view(claim)

    @get(
        "/{claim_id:str}/proof",
        opt={"scope": "claims:read"},
        summary="Get the verification proof",
        description=(
            "The latest verification and the inclusion proof of the claim's newest event against the latest"
            " signed checkpoint; 409 NOT_SEALED (with Retry-After) while that event awaits its checkpoint."
        ),
    )
    async def proof(
        self, claim_id: ClaimId, runtime: NamedDependency[Runtime], partner_id: NamedDependency[str]
    ) -> schemas.VerificationResponse:
        current = await run_blocking(runtime.ledger.claims.current, parse_uuid(claim_id, "claim"), partner_id)
        proven = await run_blocking(runtime.audit.prove, current.head)
        return views.verification_response(current.claim, views.proof(proven))

    @post(
        "/{claim_id:str}/verify",
        opt={"scope": "claims:write"},
        summary="Trigger verification",
        description=(
            "Re-verifies a submitted or pending claim (documents registered later are picked up; registering"
            " a document also re-verifies the claims waiting on it). A changed outcome is recorded as a new"
            " verification; the same outcome records nothing, and a decided claim (verified, rejected,"
            " flagged, or awaiting review) is returned unchanged. 200 with the proof, 202 if the seal is late."
        ),
        status_code=200,
    )
    async def verify(
        self,
        claim_id: ClaimId,
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[schemas.VerificationResponse]:
        claim_uuid = parse_uuid(claim_id, "claim")
        outcome = await run_blocking(runtime.ledger.claims.verify, claim_uuid, partner_id)
        evidence = views.sealed_proof(await runtime.proof_wait.proof_when_sealed(outcome.head))
        return Response(
            views.verification_response(outcome.claim, evidence), status_code=200 if evidence is not None else 202
        )

    @get(
        "/{claim_id:str}/explain",
        opt={"scope": "claims:read"},
        summary="Recompute the claim's verifications from the log",
        description=(
            "Every recorded verification beside its recomputation: the decision from the recorded inputs"
            " under the recorded rule set, and the inputs rebuilt from the log entries before asOfPosition."
            " Another partner is never revealed (inputs hold counts only)."
        ),
    )
    async def explain(
        self, claim_id: ClaimId, runtime: NamedDependency[Runtime], partner_id: NamedDependency[str]
    ) -> ExplainResponse:
        claim_uuid = parse_uuid(claim_id, "claim")
        checks = await run_blocking(runtime.ledger.claims.explain, claim_uuid, partner_id)
        return views.explain_response(str(claim_uuid), checks)

    @get("/{claim_id:str}/events", opt={"scope": "claims:read"}, summary="Get the claim's event history")
    async def events(
        self, claim_id: ClaimId, runtime: NamedDependency[Runtime], partner_id: NamedDependency[str]
    ) -> schemas.ClaimEvents:
        claim_uuid = parse_uuid(claim_id, "claim")
        rows = await run_blocking(runtime.ledger.claims.events, claim_uuid, partner_id)
        return schemas.ClaimEvents(claim_id=str(claim_uuid), data=[views.log_entry(row) for row in rows])
