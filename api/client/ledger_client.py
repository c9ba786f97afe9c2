"""The Python SDK of the Proveniq Ledger HTTP API (httpx, synchronous, typed).

::

    from api.client.ledger_client import LedgerClient  # installed alone: proveniq_ledger_client.ledger_client

    with LedgerClient("http://127.0.0.1:8000", client_id=..., client_secret=..., api_key=..., api_secret=...) as ledger:
        result = ledger.submit_claim({...})          # a VerificationResponse with an inclusion proof
        ledger.verify_proof_offline(result.proof, vkey=ledger.public_key())

The client fetches an access token (``POST /oauth/token``, client credentials) and refreshes it a minute
before it expires or after a 401 ``AUTH_INVALID_TOKEN``; signs every ``/api/v1`` request with the five
headers (:mod:`.signing`); sends an ``Idempotency-Key`` with every POST (one per call, kept
across retries); and retries 429, 5xx, 409 ``IDEMPOTENCY_REQUEST_IN_PROGRESS`` and connection errors with
exponential backoff and jitter, honouring ``Retry-After``. Every retry is signed afresh (a new
``X-Request-ID``: the old one would be a replay). Errors raise :class:`LedgerApiError` carrying the
envelope's ``code``, ``message``, ``details`` and ``requestId``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from proofs.documents import DocumentReport, verify_document
from proofs.promise import InclusionPromise, check_kept, verify_promise

from .claims import ClaimsReviewClientMixin
from .core import ClientCore, LedgerApiError
from .members import MembersClientMixin
from .operations import PartnerOperationsClientMixin
from .schemas import common as schemas
from .webhooks import WebhooksClientMixin

__all__ = ["ClientCore", "LedgerApiError", "LedgerClient"]


class LedgerClient(
    ClaimsReviewClientMixin, MembersClientMixin, WebhooksClientMixin, PartnerOperationsClientMixin, ClientCore
):
    """A partner's client: tokens, signatures, retries, and one method per endpoint."""

    # -- claims ----------------------------------------------------------------------------------------
    def submit_claim(
        self,
        submission: schemas.ClaimSubmission | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        respond_async: bool = False,
    ) -> schemas.VerificationResponse:
        """``POST /api/v1/claims``; ``last_response.status_code``: 201 new, 200 resubmitted, 202 not sealed yet.

        ``respond_async`` sends ``Prefer: respond-async`` (RFC 7240): the server answers at commit, 202 with
        ``promise`` (check it with :meth:`verify_promise_offline`) and no proof, which
        :meth:`get_claim_proof` fetches once sealed."""
        result = self._json(
            "POST",
            "/api/v1/claims",
            schemas.VerificationResponse,
            body=submission,
            idempotency_key=idempotency_key,
            extra_headers={"Prefer": "respond-async"} if respond_async else None,
        )
        self._observe(None if result.proof is None else result.proof.checkpoint)
        return result

    def get_claim(self, claim_id: str) -> schemas.ClaimView:
        return self._json("GET", f"/api/v1/claims/{claim_id}", schemas.ClaimView)

    def get_claim_proof(self, claim_id: str) -> schemas.VerificationResponse:
        result = self._json("GET", f"/api/v1/claims/{claim_id}/proof", schemas.VerificationResponse)
        self._observe(None if result.proof is None else result.proof.checkpoint)
        return result

    def verify_claim(self, claim_id: str) -> schemas.VerificationResponse:
        return self._json("POST", f"/api/v1/claims/{claim_id}/verify", schemas.VerificationResponse)

    def claim_events(self, claim_id: str) -> schemas.ClaimEvents:
        return self._json("GET", f"/api/v1/claims/{claim_id}/events", schemas.ClaimEvents)

    # -- documents -------------------------------------------------------------------------------------
    def upload_document(
        self,
        content: bytes,
        *,
        document_type: str,
        media_type: str,
        metadata: Mapping[str, str] | None = None,
        multipart: bool = False,
        idempotency_key: str | None = None,
    ) -> schemas.DocumentResponse:
        """``POST /api/v1/documents``: raw bytes (default) or a multipart form with a ``file`` part."""
        meta = None if not metadata else msgspec.json.encode(dict(metadata)).decode()
        if multipart:
            boundary = uuid.uuid4().hex
            body, content_type = (
                _multipart(boundary, content, media_type, document_type, meta),
                (f"multipart/form-data; boundary={boundary}"),
            )
            params: dict[str, Any] = {}
        else:
            body, content_type = content, media_type
            params = {"type": document_type, "metadata": meta}
        response = self.send(
            "POST",
            "/api/v1/documents",
            params=params,
            body=body,
            headers={"Content-Type": content_type},
            idempotency_key=idempotency_key,
        )
        return self._decode(response, schemas.DocumentResponse)

    def get_document(self, sha256: str) -> schemas.DocumentResponse:
        return self._json("GET", f"/api/v1/documents/{sha256}", schemas.DocumentResponse)

    # -- audit -----------------------------------------------------------------------------------------
    def audit_logs(
        self,
        *,
        limit: int = 10,
        starting_after: int | None = None,
        type: str | None = None,
        aggregate: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> schemas.LogPage:
        params = {
            "limit": limit,
            "starting_after": starting_after,
            "type": type,
            "aggregate": aggregate,
            "since": since,
            "until": until,
        }
        return self._decode(self.send("GET", "/api/v1/audit/logs", params=params), schemas.LogPage)

    def iter_audit_logs(self, *, page_size: int = 100, **filters: Any) -> Iterator[schemas.LogEntry]:
        """Every matching entry, page after page."""
        cursor: int | None = None
        while True:
            page = self.audit_logs(limit=page_size, starting_after=cursor, **filters)
            yield from page.data
            if not page.has_more or not page.data:
                return
            cursor = page.data[-1].position

    def audit_proof(self, position: int, tree_size: int | None = None) -> schemas.AuditProof:
        response = self.send("GET", f"/api/v1/audit/proofs/{position}", params={"treeSize": tree_size})
        proof = self._decode(response, schemas.AuditProof)
        self._observe(proof.checkpoint, latest=tree_size is None)
        return proof

    def checkpoint(self, size: int | None = None) -> str:
        path = "/api/v1/audit/checkpoint" if size is None else f"/api/v1/audit/checkpoints/{size}"
        note = self.send("GET", path).text
        self._observe(note, latest=size is None)
        return note

    def consistency(self, from_size: int, to_size: int) -> schemas.ConsistencyResponse:
        response = self.send("GET", "/api/v1/audit/consistency", params={"from": from_size, "to": to_size})
        answer = self._decode(response, schemas.ConsistencyResponse)
        self._observe(answer.to_checkpoint)
        return answer

    def public_key(self) -> str:
        """The current checkpoint verifier key (the first line of ``/audit/public-key``)."""
        return self.public_keys()[0]

    def public_keys(self) -> list[str]:
        """Every checkpoint verifier key: the current one first, then those ``ledger keys rotate`` replaced."""
        return self.send("GET", "/api/v1/audit/public-key").text.split()

    # -- unauthenticated -------------------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        result: dict[str, Any] = self._with_retries(lambda: self.http.get("/.well-known/jwks.json")).json()
        return result

    def health(self) -> schemas.Health:
        return self._decode(self._with_retries(lambda: self.http.get("/health")), schemas.Health)

    def ready(self) -> schemas.Readiness:
        response = self._with_retries(lambda: self.http.get("/ready"), raise_errors=False)
        return self._decode(response, schemas.Readiness)

    def metrics(self) -> str:
        return self._with_retries(lambda: self.http.get("/metrics")).text

    # -- offline verification --------------------------------------------------------------------------
    @staticmethod
    def verify_proof_offline(
        proof: schemas.InclusionProofDocument | schemas.ConsistencyResponse | Mapping[str, Any] | str | bytes,
        vkey: str,
    ) -> DocumentReport:
        """Check any proof document with no server (a claim proof, an audit proof, a consistency proof,
        an audit bundle or history proof, as a response object, a dict or JSON text): the checkpoint
        signatures (``vkey``, pinned out of band), the entry's leaf hash, the paths against the
        checkpoints' roots (:func:`proofs.documents.verify_document`). Raises a ``ProofError``."""
        document = msgspec.to_builtins(proof) if isinstance(proof, msgspec.Struct) else proof
        return verify_document(document, [vkey])

    @staticmethod
    def verify_promise_offline(
        promise: schemas.InclusionPromiseDocument | Mapping[str, Any],
        vkey: str,
        proof: schemas.InclusionProofDocument | Mapping[str, Any] | None = None,
    ) -> InclusionPromise:
        """Check a signed promise of inclusion with no server: its signature by the log's key (``vkey``,
        pinned out of band, :func:`proofs.promise.verify_promise`); with the ``proof`` fetched later, also
        the proof itself and that it shows the promised leaf index and leaf hash
        (:func:`proofs.promise.check_kept`). Returns the promise; raises a ``ProofError``."""
        document = msgspec.to_builtins(promise) if isinstance(promise, msgspec.Struct) else promise
        made = InclusionPromise.from_json(document)
        verify_promise(made, vkey)
        if proof is not None:
            proven = msgspec.to_builtins(proof) if isinstance(proof, msgspec.Struct) else proof
            report = verify_document(proven, [vkey])
            check_kept(made, proven, next(iter(report.checkpoints.values())).origin)
        return made


def _multipart(boundary: str, content: bytes, media_type: str, document_type: str, metadata: str | None) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\n{document_type}\r\n'.encode(),
    ]
    if metadata is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{metadata}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="document"\r\n'
        f"Content-Type: {media_type}\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)
