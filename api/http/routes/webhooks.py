"""``/api/v1/webhooks``: the caller's webhook endpoints, their delivery logs, resend and replay.

Scope ``webhooks:manage``. Endpoints are the caller's own (another partner's id is 404
``WEBHOOK_ENDPOINT_NOT_FOUND``). The signing secret is returned once, on creation and on rotation; a
rotation keeps the previous secret signing for ``overlapSeconds`` (default 24 h). See docs/webhooks.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from adapters.outbox import AttemptRecord, DeliveryRecord
from adapters.webhook_management import WebhookManager
from adapters.webhook_targets import partner_error
from api.client.schemas import webhooks as schemas
from api.http.routes.claims import IdempotencyKey
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.engine.errors import InvalidCommand
from ledger_core.partners.access import WebhookEndpoint
from ledger_core.shared.validation import format_timestamp, parse_timestamp

MANAGE = {"scope": "webhooks:manage"}
EndpointId = Annotated[str, PathParameter(description="The webhook endpoint id.", max_length=64)]
DeliveryId = Annotated[
    int, PathParameter(ge=0, le=schemas.MAX_INT64, description="The delivery id (a signed 64-bit integer).")
]


def manager(runtime: Runtime) -> WebhookManager:
    if runtime.webhooks is None:
        raise InvalidCommand("webhooks are not configured on this server", field="webhooks")
    return WebhookManager(
        runtime.ledger.partners,
        runtime.webhooks,
        runtime.security.deployment_secret,
        allow_private=runtime.settings.webhooks_may_target_private,
    )


def _time(value: float | None) -> str | None:
    return None if value is None else format_timestamp(datetime.fromtimestamp(value, UTC))


def endpoint_view(endpoint: WebhookEndpoint) -> schemas.WebhookEndpointView:
    return schemas.WebhookEndpointView(
        endpoint_id=endpoint.endpoint_id,
        url=endpoint.url,
        event_types=list(endpoint.event_types),
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


def delivery_view(record: DeliveryRecord) -> schemas.DeliveryView:
    return schemas.DeliveryView(
        delivery_id=record.delivery_id,
        message_id=record.message_id,
        endpoint_id=record.endpoint_id,
        event_type=record.event_type,
        position=record.position,
        status=record.status,  # type: ignore[arg-type]  # one of the outbox's four statuses
        attempts=record.attempts,
        next_attempt_at=_time(record.next_attempt_at),
        last_status_code=record.last_status_code,
        last_error=partner_error(record.last_error),
        created_at=_time(record.created_at) or "",
        delivered_at=_time(record.delivered_at),
        origin=record.origin,
    )


def attempt_view(record: AttemptRecord) -> schemas.AttemptView:
    return schemas.AttemptView(
        attempt=record.attempt,
        started_at=_time(record.started_at) or "",
        status_code=record.status_code,
        latency_ms=round(record.latency_ms, 3),
        error=partner_error(record.error),
        tls_version=record.tls_version,
    )


class WebhooksController(Controller):
    path = "/webhooks"
    tags = ("webhooks",)

    @post("/endpoints", opt=MANAGE, summary="Register a webhook endpoint", status_code=201)
    async def create(
        self,
        data: JSONBody[schemas.WebhookEndpointCreate],
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        idempotency_key: IdempotencyKey = None,
    ) -> schemas.WebhookEndpointWithSecret:
        """The response carries the signing secret once; store it to verify deliveries."""
        created = await run_blocking(
            lambda: manager(runtime).create(partner_id, data.url, list(data.event_types), data.endpoint_id)
        )
        return schemas.WebhookEndpointWithSecret(endpoint=endpoint_view(created.endpoint), secret=created.secret)

    @get("/endpoints", opt=MANAGE, summary="List the caller's webhook endpoints")
    async def list_endpoints(
        self, runtime: NamedDependency[Runtime], partner_id: NamedDependency[str]
    ) -> schemas.WebhookEndpointList:
        endpoints = await run_blocking(manager(runtime).endpoints, partner_id)
        return schemas.WebhookEndpointList(data=[endpoint_view(e) for e in endpoints])

    @get("/endpoints/{endpoint_id:str}", opt=MANAGE, summary="Get a webhook endpoint")
    async def get_endpoint(
        self, endpoint_id: EndpointId, runtime: NamedDependency[Runtime], partner_id: NamedDependency[str]
    ) -> schemas.WebhookEndpointView:
        endpoint = await run_blocking(manager(runtime).get, partner_id, endpoint_id)
        return endpoint_view(endpoint)

    @patch("/endpoints/{endpoint_id:str}", opt=MANAGE, summary="Update, disable or enable a webhook endpoint")
    async def update_endpoint(
        self,
        endpoint_id: EndpointId,
        data: JSONBody[schemas.WebhookEndpointUpdate],
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
    ) -> schemas.WebhookEndpointView:
        types: list[str] | None = None if data.event_types is None else [str(t) for t in data.event_types]
        endpoint = await run_blocking(
            lambda: manager(runtime).update(
                partner_id, endpoint_id, url=data.url, event_types=types, enabled=data.enabled
            )
        )
        return endpoint_view(endpoint)

    @delete("/endpoints/{endpoint_id:str}", opt=MANAGE, summary="Delete a webhook endpoint", status_code=204)
    async def delete_endpoint(
        self, endpoint_id: EndpointId, runtime: NamedDependency[Runtime], partner_id: NamedDependency[str]
    ) -> None:
        """Pending deliveries to it are cancelled."""
        await run_blocking(manager(runtime).delete, partner_id, endpoint_id)

    @post(
        "/endpoints/{endpoint_id:str}/rotate-secret", opt=MANAGE, summary="Rotate the signing secret", status_code=200
    )
    async def rotate_secret(
        self,
        endpoint_id: EndpointId,
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        data: JSONBody[schemas.SecretRotation | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> schemas.WebhookEndpointWithSecret:
        """The new secret signs at once; the previous one also signs until ``previousSecretExpiresAt``."""
        overlap = timedelta(seconds=(data or schemas.SecretRotation()).overlap_seconds)
        rotated = await run_blocking(lambda: manager(runtime).rotate_secret(partner_id, endpoint_id, overlap))
        return schemas.WebhookEndpointWithSecret(endpoint=endpoint_view(rotated.endpoint), secret=rotated.secret)

    @get("/endpoints/{endpoint_id:str}/deliveries", opt=MANAGE, summary="List an endpoint's deliveries")
    async def deliveries(
        self,
        endpoint_id: EndpointId,
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1 to 100.")] = 20,
        starting_after: Annotated[
            int | None, QueryParameter(ge=0, le=schemas.MAX_INT64, description="Cursor: the last deliveryId seen.")
        ] = None,
        status: Annotated[schemas.DeliveryStatusName | None, QueryParameter(description="Only this status.")] = None,
    ) -> schemas.DeliveryPage:
        rows, more = await run_blocking(
            lambda: manager(runtime).deliveries(
                partner_id, endpoint_id, limit=limit, starting_after=starting_after, status=status
            )
        )
        return schemas.DeliveryPage(data=[delivery_view(r) for r in rows], has_more=more)

    @get(
        "/endpoints/{endpoint_id:str}/deliveries/{delivery_id:int}",
        opt=MANAGE,
        summary="Get a delivery and its attempts (status code, latency, error)",
    )
    async def delivery(
        self,
        endpoint_id: EndpointId,
        delivery_id: DeliveryId,
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
    ) -> schemas.DeliveryDetail:
        record, attempts = await run_blocking(manager(runtime).delivery, partner_id, endpoint_id, delivery_id)
        return schemas.DeliveryDetail(delivery=delivery_view(record), attempts=[attempt_view(a) for a in attempts])

    @post(
        "/endpoints/{endpoint_id:str}/deliveries/{delivery_id:int}/resend",
        opt=MANAGE,
        summary="Send a delivery's message again (same webhook-id)",
        status_code=202,
    )
    async def resend(
        self,
        endpoint_id: EndpointId,
        delivery_id: DeliveryId,
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        idempotency_key: IdempotencyKey = None,
    ) -> schemas.DeliveryView:
        record = await run_blocking(manager(runtime).resend, partner_id, endpoint_id, delivery_id)
        return delivery_view(record)

    @post(
        "/endpoints/{endpoint_id:str}/replay",
        opt=MANAGE,
        summary="Deliver again everything since a log position or a time",
        status_code=202,
    )
    async def replay(
        self,
        endpoint_id: EndpointId,
        data: JSONBody[schemas.ReplayRequest],
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[schemas.ReplayResult]:
        since = None if data.since is None else parse_timestamp(data.since, "since").timestamp()
        count = await run_blocking(
            lambda: manager(runtime).replay(
                partner_id, endpoint_id, since_position=data.since_position, since_time=since
            )
        )
        return Response(schemas.ReplayResult(endpoint_id=endpoint_id, enqueued=count), status_code=202)
