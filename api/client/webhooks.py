"""Webhooks in the Python SDK: endpoint management and delivery logs (a mixin of ``LedgerClient``), and
:func:`verify_webhook` for receivers.

Receivers: verify the raw request body (bytes as received, before any JSON parsing) with the endpoint's
``whsec_`` secret; :func:`verify_webhook` accepts the Standard Webhooks headers or the seed's
``X-Proveniq-Signature``, rejects timestamps more than 5 minutes off, and returns the payload. Use the
payload's ``id`` (the ``webhook-id``) to ignore repeats: delivery is at-least-once. See docs/webhooks.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import msgspec

from proofs.webhooks import TOLERANCE_SECONDS, WebhookVerificationError, verify_signature

from .core import ClientCore
from .schemas import webhooks as schemas

__all__ = ["WebhookVerificationError", "WebhooksClientMixin", "verify_webhook"]


def verify_webhook(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    raw_body: bytes,
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """The verified payload of one delivery; raises :class:`WebhookVerificationError` if anything is off.

    The signature check is :func:`proofs.webhooks.verify_signature`, the same code the server signs with.
    """
    verify_signature(headers, raw_body, secret, now=time.time() if now is None else now, tolerance=tolerance)
    try:
        payload = msgspec.json.decode(raw_body)
    except msgspec.DecodeError:
        raise WebhookVerificationError("webhook body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookVerificationError("webhook body is not a JSON object")
    return payload


def _endpoint_path(endpoint_id: str, rest: str = "") -> str:
    return f"/api/v1/webhooks/endpoints/{quote(endpoint_id, safe='')}{rest}"


class WebhooksClientMixin(ClientCore):
    """``/api/v1/webhooks`` (scope ``webhooks:manage``)."""

    def create_webhook_endpoint(
        self, url: str, event_types: list[str], *, endpoint_id: str | None = None
    ) -> schemas.WebhookEndpointWithSecret:
        """Register an endpoint; the answer's ``secret`` is shown only this once."""
        body = {"url": url, "eventTypes": event_types, "endpointId": endpoint_id}
        return self._json("POST", "/api/v1/webhooks/endpoints", schemas.WebhookEndpointWithSecret, body=body)

    def list_webhook_endpoints(self) -> schemas.WebhookEndpointList:
        return self._json("GET", "/api/v1/webhooks/endpoints", schemas.WebhookEndpointList)

    def get_webhook_endpoint(self, endpoint_id: str) -> schemas.WebhookEndpointView:
        return self._json("GET", _endpoint_path(endpoint_id), schemas.WebhookEndpointView)

    def update_webhook_endpoint(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: list[str] | None = None,
        enabled: bool | None = None,
    ) -> schemas.WebhookEndpointView:
        body = {k: v for k, v in {"url": url, "eventTypes": event_types, "enabled": enabled}.items() if v is not None}
        return self._json("PATCH", _endpoint_path(endpoint_id), schemas.WebhookEndpointView, body=body)

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        self.send("DELETE", _endpoint_path(endpoint_id))

    def rotate_webhook_secret(
        self, endpoint_id: str, *, overlap_seconds: int = 86_400
    ) -> schemas.WebhookEndpointWithSecret:
        body = {"overlapSeconds": overlap_seconds}
        path = _endpoint_path(endpoint_id, "/rotate-secret")
        return self._json("POST", path, schemas.WebhookEndpointWithSecret, body=body)

    def list_webhook_deliveries(
        self, endpoint_id: str, *, limit: int = 20, starting_after: int | None = None, status: str | None = None
    ) -> schemas.DeliveryPage:
        params = {"limit": limit, "starting_after": starting_after, "status": status}
        response = self.send("GET", _endpoint_path(endpoint_id, "/deliveries"), params=params)
        return self._decode(response, schemas.DeliveryPage)

    def get_webhook_delivery(self, endpoint_id: str, delivery_id: int) -> schemas.DeliveryDetail:
        return self._json("GET", _endpoint_path(endpoint_id, f"/deliveries/{delivery_id}"), schemas.DeliveryDetail)

    def resend_webhook_delivery(self, endpoint_id: str, delivery_id: int) -> schemas.DeliveryView:
        path = _endpoint_path(endpoint_id, f"/deliveries/{delivery_id}/resend")
        return self._json("POST", path, schemas.DeliveryView, body={})

    def replay_webhooks(
        self, endpoint_id: str, *, since_position: int | None = None, since: str | None = None
    ) -> schemas.ReplayResult:
        body = {k: v for k, v in {"sincePosition": since_position, "since": since}.items() if v is not None}
        return self._json("POST", _endpoint_path(endpoint_id, "/replay"), schemas.ReplayResult, body=body)
