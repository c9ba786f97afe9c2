"""Request and response shapes of ``/api/v1/webhooks`` (camelCase, like :mod:`api.client.schemas.common`)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .common import Camel, Strict

EventTypeName = Literal[
    "claim.verified",
    "claim.fraud_detected",
    "proof.generated",
    "audit.alert",
    "enrollment.completed",
    "sample.received",
    "result.delivered",
    "subscription.started",
    "subscription.cancelled",
]
DeliveryStatusName = Literal["pending", "delivered", "failed", "cancelled"]
MAX_INT64 = 2**63 - 1
"""Delivery ids and log positions are signed 64-bit integers in storage: larger ones are refused (400)."""
StoredInt = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)]

EndpointIdText = Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9_-]{1,64}$")]


class WebhookEndpointCreate(Strict):
    """A new endpoint: an https URL (seed 000 section 6.2) and the event types to receive."""

    url: Annotated[str, msgspec.Meta(max_length=2048)]
    event_types: Annotated[list[EventTypeName], msgspec.Meta(min_length=1)]
    endpoint_id: EndpointIdText | None = None


class WebhookEndpointUpdate(Strict):
    """Fields to change; ``enabled`` false pauses deliveries (they wait), true resumes them."""

    url: Annotated[str, msgspec.Meta(max_length=2048)] | None = None
    event_types: Annotated[list[EventTypeName], msgspec.Meta(min_length=1)] | None = None
    enabled: bool | None = None


class SecretRotation(Strict):
    """How long the current secret keeps signing next to the new one (default 24 h, at most 30 days)."""

    overlap_seconds: Annotated[int, msgspec.Meta(ge=0, le=30 * 86_400)] = 86_400


class WebhookEndpointView(Camel):
    endpoint_id: str
    url: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    previous_secret_expires_at: str | None


class WebhookEndpointWithSecret(Camel):
    """The endpoint and its signing secret (``whsec_`` + base64), shown only in this response."""

    endpoint: WebhookEndpointView
    secret: str


class WebhookEndpointList(msgspec.Struct):
    data: list[WebhookEndpointView]


class DeliveryView(Camel):
    delivery_id: int
    message_id: str
    endpoint_id: str
    event_type: str
    position: int | None
    status: DeliveryStatusName
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None
    origin: str


class AttemptView(Camel):
    attempt: int
    started_at: str
    status_code: int | None
    latency_ms: float
    error: str | None
    tls_version: str | None = None
    """The TLS version the attempt negotiated (``TLSv1.3``, ``TLSv1.2``); null for http or no connection."""


class DeliveryDetail(Camel):
    delivery: DeliveryView
    attempts: list[AttemptView]


class DeliveryPage(msgspec.Struct):
    """Newest first; pass the last ``deliveryId`` seen as ``starting_after``."""

    data: list[DeliveryView]
    has_more: bool


class ReplayRequest(Strict):
    """Deliver again everything from a log position or from a time (RFC 3339)."""

    since_position: StoredInt | None = None
    since: str | None = None


class ReplayResult(Camel):
    endpoint_id: str
    enqueued: int
