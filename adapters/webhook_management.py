"""Managing a partner's webhook endpoints and recovering deliveries: what the HTTP API and the CLI call.

Endpoint configuration is recorded in the log through the Partner aggregate (``partner.webhook_*``
events); the secret never is: each endpoint has a ``secret_id`` and its ``whsec_`` secret is derived
from the deployment secret (:func:`ledger_core.webhooks.signatures.derive_endpoint_secret`). The secret
is returned once, when the endpoint is created or its secret rotated. Delivery logs, resend and replay
work on the outbox.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from adapters.outbox import AttemptRecord, DeliveryOrigin, DeliveryRecord, OutboxStore
from adapters.webhook_targets import REGISTRATION_MESSAGE, SyncLookup, TargetRefused, system_lookup
from adapters.webhook_targets import check_target as check_url_target
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.partners.access import DEFAULT_OVERLAP, WebhookEndpoint, check_endpoint_id
from ledger_core.partners.service import PartnerService
from ledger_core.webhooks.signatures import derive_endpoint_secret

logger = logging.getLogger("adapters.webhooks")


@dataclass(frozen=True, slots=True)
class EndpointWithSecret:
    """A created endpoint, or one whose secret was rotated: ``secret`` is shown this once."""

    endpoint: WebhookEndpoint
    secret: str


def new_endpoint_id() -> str:
    return "we_" + secrets.token_hex(8)


def new_secret_id() -> str:
    return "whs_" + secrets.token_hex(8)


def check_target(url: str, allow_private: bool, lookup: SyncLookup = system_lookup) -> None:
    """Refuse a URL the dispatcher would refuse (:func:`adapters.webhook_targets.check_target`: https, the
    host normalised and resolved now, only public addresses), unless the deployment allows private targets.

    The partner gets one generic message whatever the cause; the cause (with any resolved address) goes to
    the operators' log only.
    """
    try:
        check_url_target(url, allow_private, lookup)
    except TargetRefused as refused:
        logger.warning("webhook target refused at registration: %s", refused.detail, extra={"url": url[:200]})
        raise InvalidCommand(REGISTRATION_MESSAGE, field="url") from None


class WebhookManager:
    """Endpoint commands (via the Partner aggregate) and delivery recovery (via the outbox)."""

    def __init__(
        self, partners: PartnerService, outbox: OutboxStore, deployment_secret: bytes, *, allow_private: bool
    ) -> None:
        self.partners = partners
        self.outbox = outbox
        self.deployment_secret = deployment_secret
        self.allow_private = allow_private

    def _secret(self, secret_id: str) -> str:
        return derive_endpoint_secret(self.deployment_secret, secret_id)

    # -- endpoints ------------------------------------------------------------------------------------
    def create(
        self, partner_id: str, url: str, event_types: list[str], endpoint_id: str | None = None
    ) -> EndpointWithSecret:
        check_target(url, self.allow_private)
        endpoint_id = check_endpoint_id(endpoint_id) if endpoint_id is not None else new_endpoint_id()
        secret_id = new_secret_id()
        self.partners.add_webhook(partner_id, endpoint_id, url=url, event_types=event_types, secret_id=secret_id)
        return EndpointWithSecret(self.get(partner_id, endpoint_id), self._secret(secret_id))

    def endpoints(self, partner_id: str) -> list[WebhookEndpoint]:
        return sorted(self.partners.get(partner_id).webhooks.values(), key=lambda e: e.endpoint_id)

    def get(self, partner_id: str, endpoint_id: str) -> WebhookEndpoint:
        endpoint = self.partners.get(partner_id).webhooks.get(endpoint_id)
        if endpoint is None:
            raise NotFound("webhook_endpoint", endpoint_id)
        return endpoint

    def update(
        self,
        partner_id: str,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: list[str] | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        current = self.get(partner_id, endpoint_id)
        if url is not None or event_types is not None:
            if url is not None:
                check_target(url, self.allow_private)
            self.partners.update_webhook(
                partner_id,
                endpoint_id,
                url=current.url if url is None else url,
                event_types=list(current.event_types) if event_types is None else event_types,
                secret_id=current.secret_id,
            )
        if enabled is True:
            self.partners.enable_webhook(partner_id, endpoint_id)
        elif enabled is False:
            self.partners.disable_webhook(partner_id, endpoint_id, "disabled by the partner")
        return self.get(partner_id, endpoint_id)

    def delete(self, partner_id: str, endpoint_id: str) -> None:
        self.get(partner_id, endpoint_id)
        self.partners.remove_webhook(partner_id, endpoint_id)

    def rotate_secret(
        self, partner_id: str, endpoint_id: str, overlap: timedelta = DEFAULT_OVERLAP
    ) -> EndpointWithSecret:
        self.get(partner_id, endpoint_id)
        secret_id = new_secret_id()
        self.partners.rotate_webhook_secret(partner_id, endpoint_id, secret_id, overlap)
        return EndpointWithSecret(self.get(partner_id, endpoint_id), self._secret(secret_id))

    # -- delivery logs and recovery -------------------------------------------------------------------
    def deliveries(
        self, partner_id: str, endpoint_id: str, *, limit: int, starting_after: int | None, status: str | None
    ) -> tuple[list[DeliveryRecord], bool]:
        """A page of the endpoint's deliveries, newest first, and whether more follow."""
        self.get(partner_id, endpoint_id)
        with self.outbox.transaction() as tx:
            rows = tx.list_deliveries(
                partner_id, endpoint_id, limit=limit + 1, starting_after=starting_after, status=status
            )
        return rows[:limit], len(rows) > limit

    def delivery(
        self, partner_id: str, endpoint_id: str, delivery_id: int
    ) -> tuple[DeliveryRecord, list[AttemptRecord]]:
        with self.outbox.transaction() as tx:
            record = tx.get_delivery(partner_id, delivery_id)
            if record is None or record.endpoint_id != endpoint_id:
                raise NotFound("webhook_delivery", str(delivery_id))
            return record, tx.attempts(delivery_id)

    def resend(self, partner_id: str, endpoint_id: str, delivery_id: int) -> DeliveryRecord:
        """A new delivery of the same message (same ``webhook-id`` and body) to the endpoint, due now."""
        self.get(partner_id, endpoint_id)
        with self.outbox.transaction() as tx:
            record = tx.get_delivery(partner_id, delivery_id)
            if record is None or record.endpoint_id != endpoint_id:
                raise NotFound("webhook_delivery", str(delivery_id))
            new_id = tx.add_delivery(
                record.message_id, partner_id, endpoint_id, self.outbox.now(), DeliveryOrigin.RESEND
            )
            created = tx.get_delivery(partner_id, new_id)
        if created is None:  # inserted in the same transaction; would mean the database lost it
            raise NotFound("webhook_delivery", str(new_id))
        return created

    def replay(
        self, partner_id: str, endpoint_id: str, *, since_position: int | None = None, since_time: float | None = None
    ) -> int:
        """Deliver again every message of a type the endpoint subscribes to, from a log position or a time."""
        if since_position is None and since_time is None:
            raise InvalidCommand("replay needs sincePosition or since", field="sincePosition")
        endpoint = self.get(partner_id, endpoint_id)
        with self.outbox.transaction() as tx:
            ids = tx.replay_messages(
                partner_id, list(endpoint.event_types), since_position=since_position, since_time=since_time
            )
            now = self.outbox.now()
            for message_id in ids:
                tx.add_delivery(message_id, partner_id, endpoint_id, now, DeliveryOrigin.REPLAY)
        return len(ids)
