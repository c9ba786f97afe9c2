"""Claim review and explanation in the Python SDK (a mixin of :class:`api.client.ledger_client.LedgerClient`).

``explain_claim`` is a partner's call (its own claims); ``review_claim`` and ``explain_partner_claim``
are an operations principal's (scope ``operations``). See docs/verification.md.
"""

from __future__ import annotations

from urllib.parse import quote

from .core import ClientCore
from .schemas import claims as schemas


class ClaimsReviewClientMixin(ClientCore):
    """Claim explanation (partners) and review (operations)."""

    def explain_claim(self, claim_id: str) -> schemas.ExplainResponse:
        """``GET /api/v1/claims/{id}/explain``: every verification recomputed from the log."""
        return self._json("GET", f"/api/v1/claims/{quote(claim_id, safe='')}/explain", schemas.ExplainResponse)

    def review_claim(
        self, partner_id: str, claim_id: str, *, decision: str, notes: str = "", idempotency_key: str | None = None
    ) -> schemas.ReviewResponse:
        """``POST /api/v1/operations/claims/{partner}/{id}/review`` (operations): ``verified`` or ``rejected``."""
        path = f"/api/v1/operations/claims/{quote(partner_id, safe='')}/{quote(claim_id, safe='')}/review"
        body = {"decision": decision, "notes": notes}  # the decision is checked by the server
        return self._json("POST", path, schemas.ReviewResponse, body=body, idempotency_key=idempotency_key)

    def explain_partner_claim(self, partner_id: str, claim_id: str) -> schemas.ExplainResponse:
        """``GET /api/v1/operations/claims/{partner}/{id}/explain`` (operations)."""
        path = f"/api/v1/operations/claims/{quote(partner_id, safe='')}/{quote(claim_id, safe='')}/explain"
        return self._json("GET", path, schemas.ExplainResponse)
