"""Partners: identity, category, tier, scopes, API key metadata and webhook endpoints.

The id is ``derive_id("partner", slug)`` where the slug (``northwestern_mutual``) is the partner id used
everywhere else; every partner event carries it as ``partner_id``. Commands that ask for the state the
partner is already in (same tier, already suspended, endpoint already disabled, ...) record nothing.
A suspended partner cannot get new keys or enable webhooks; revocation and disabling always work.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar, Unpack

from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.partners.access import (
    DEFAULT_OVERLAP,
    MAX_OVERLAP,
    MAX_WEBHOOKS,
    ApiKey,
    ApiKeyStatus,
    KeySchedule,
    WebhookEndpoint,
    WebhookSettings,
    address_allowed,
    check_endpoint_id,
    check_ip_allowlist,
    check_key_max_age,
    check_new_key,
    check_scopes,
    check_secret_id,
    check_webhook_settings,
    key_schedule,
    secret_sha256,
)
from ledger_core.shared.validation import check_partner_slug, check_text, format_timestamp, parse_choice
from ledger_core.shared.vocabulary import PartnerCategory, PartnerStatus, Tier


class Partner(LedgerAggregate):
    """An integration partner and its access configuration."""

    AGGREGATE_TYPE: ClassVar[str] = "Partner"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Registered(Created):
        EVENT_TYPE: ClassVar[str] = "partner.registered"
        name: str
        category: str
        tier: str
        scopes: list[str]
        client_id: str

    class TierChanged(Event):
        EVENT_TYPE: ClassVar[str] = "partner.tier_changed"
        tier: str
        previous_tier: str

        def apply(self, aggregate: Partner) -> None:
            aggregate.tier = Tier(self.tier)

    class ScopesChanged(Event):
        EVENT_TYPE: ClassVar[str] = "partner.scopes_changed"
        scopes: list[str]
        previous_scopes: list[str]

        def apply(self, aggregate: Partner) -> None:
            aggregate.scopes = tuple(self.scopes)

    class Suspended(Event):
        EVENT_TYPE: ClassVar[str] = "partner.suspended"
        reason: str

        def apply(self, aggregate: Partner) -> None:
            aggregate.status, aggregate.suspension_reason = PartnerStatus.SUSPENDED, self.reason

    class Reinstated(Event):
        EVENT_TYPE: ClassVar[str] = "partner.reinstated"

        def apply(self, aggregate: Partner) -> None:
            aggregate.status, aggregate.suspension_reason = PartnerStatus.ACTIVE, None

    class ApiKeyIssued(Event):
        EVENT_TYPE: ClassVar[str] = "partner.api_key_issued"
        key_id: str
        secret_sha256: str
        issued_at: str

        def apply(self, aggregate: Partner) -> None:
            aggregate.api_keys[self.key_id] = ApiKey(self.key_id, self.secret_sha256, self.issued_at)

    class ApiKeyRotated(Event):
        EVENT_TYPE: ClassVar[str] = "partner.api_key_rotated"
        key_id: str
        secret_sha256: str
        issued_at: str
        replaced_key_id: str
        replaced_key_expires_at: str

        def apply(self, aggregate: Partner) -> None:
            old = aggregate.api_keys[self.replaced_key_id]
            aggregate.api_keys[old.key_id] = replace(old, expires_at=self.replaced_key_expires_at)
            aggregate.api_keys[self.key_id] = ApiKey(self.key_id, self.secret_sha256, self.issued_at)

    class ApiKeyRevoked(Event):
        EVENT_TYPE: ClassVar[str] = "partner.api_key_revoked"
        key_id: str
        revoked_at: str
        reason: str

        def apply(self, aggregate: Partner) -> None:
            key = aggregate.api_keys[self.key_id]
            aggregate.api_keys[self.key_id] = replace(key, revoked_at=self.revoked_at)

    class ApiKeyMaxAgeSet(Event):
        """The partner's API key rotation schedule: keys older than ``max_age_days`` are refused (None: no limit)."""

        EVENT_TYPE: ClassVar[str] = "partner.api_key_max_age_set"
        max_age_days: int | None

        def apply(self, aggregate: Partner) -> None:
            aggregate.key_max_age_days = self.max_age_days

    class ApiKeyExpiring(Event):
        """A key entered its warning window (recorded once per key; the partner gets an ``audit.alert``)."""

        EVENT_TYPE: ClassVar[str] = "partner.api_key_expiring"
        key_id: str
        expires_at: str

        def apply(self, aggregate: Partner) -> None:
            aggregate.expiry_warned.add(self.key_id)

    class ClientSecretSet(Event):
        """The OAuth client secret changed; only its salted, slow hash (scrypt string) is recorded."""

        EVENT_TYPE: ClassVar[str] = "partner.client_secret_set"
        secret_hash: str
        set_at: str

        def apply(self, aggregate: Partner) -> None:
            aggregate.client_secret_hash = self.secret_hash

    class WebhookAdded(Event):
        EVENT_TYPE: ClassVar[str] = "partner.webhook_added"
        endpoint_id: str
        url: str
        event_types: list[str]
        secret_id: str

        def apply(self, aggregate: Partner) -> None:
            endpoint = WebhookEndpoint(self.endpoint_id, self.url, tuple(self.event_types), self.secret_id)
            aggregate.webhooks[self.endpoint_id] = endpoint

    class WebhookUpdated(Event):
        EVENT_TYPE: ClassVar[str] = "partner.webhook_updated"
        endpoint_id: str
        url: str
        event_types: list[str]
        secret_id: str

        def apply(self, aggregate: Partner) -> None:
            endpoint = aggregate.webhooks[self.endpoint_id]
            aggregate.webhooks[self.endpoint_id] = replace(
                endpoint, url=self.url, event_types=tuple(self.event_types), secret_id=self.secret_id
            )

    class WebhookSecretRotated(Event):
        """A new signing secret id; the previous one keeps signing until ``previous_secret_expires_at``."""

        EVENT_TYPE: ClassVar[str] = "partner.webhook_secret_rotated"
        endpoint_id: str
        secret_id: str
        previous_secret_id: str
        previous_secret_expires_at: str

        def apply(self, aggregate: Partner) -> None:
            endpoint = aggregate.webhooks[self.endpoint_id]
            aggregate.webhooks[self.endpoint_id] = replace(
                endpoint,
                secret_id=self.secret_id,
                previous_secret_id=self.previous_secret_id,
                previous_secret_expires_at=self.previous_secret_expires_at,
            )

    class WebhookDisabled(Event):
        EVENT_TYPE: ClassVar[str] = "partner.webhook_disabled"
        endpoint_id: str
        reason: str

        def apply(self, aggregate: Partner) -> None:
            endpoint = aggregate.webhooks[self.endpoint_id]
            aggregate.webhooks[self.endpoint_id] = replace(endpoint, enabled=False, disabled_reason=self.reason)

    class WebhookEnabled(Event):
        EVENT_TYPE: ClassVar[str] = "partner.webhook_enabled"
        endpoint_id: str

        def apply(self, aggregate: Partner) -> None:
            endpoint = aggregate.webhooks[self.endpoint_id]
            aggregate.webhooks[self.endpoint_id] = replace(endpoint, enabled=True, disabled_reason=None)

    class WebhookRemoved(Event):
        EVENT_TYPE: ClassVar[str] = "partner.webhook_removed"
        endpoint_id: str

        def apply(self, aggregate: Partner) -> None:
            del aggregate.webhooks[self.endpoint_id]

    class IpAllowlistSet(Event):
        """The networks the partner's requests may come from (seed 000 section 6.1); empty: any."""

        EVENT_TYPE: ClassVar[str] = "partner.ip_allowlist_set"
        cidrs: list[str]
        previous_cidrs: list[str]

        def apply(self, aggregate: Partner) -> None:
            aggregate.ip_allowlist = tuple(self.cidrs)

    def __init__(
        self, partner_id: str | None, name: str, category: str, tier: str, scopes: list[str], client_id: str
    ) -> None:
        self.partner_id = partner_id
        self.name = name
        self.category = PartnerCategory(category)
        self.tier = Tier(tier)
        self.scopes: tuple[str, ...] = tuple(scopes)
        self.client_id = client_id
        self.status = PartnerStatus.ACTIVE
        self.suspension_reason: str | None = None
        self.api_keys: dict[str, ApiKey] = {}
        self.webhooks: dict[str, WebhookEndpoint] = {}
        self.client_secret_hash: str | None = None
        self.ip_allowlist: tuple[str, ...] = ()
        self.key_max_age_days: int | None = None
        self.expiry_warned: set[str] = set()

    @classmethod
    def register(cls, *, partner_id: str, name: str, category: str, tier: str, scopes: Sequence[str]) -> Partner:
        """Register a partner; its OAuth client id is ``partner_<slug>`` (seed 001 §3.2)."""
        slug = check_partner_slug(partner_id)
        kind = parse_choice(PartnerCategory, category, "category")
        return cls._create(
            cls.Registered,
            id=derive_id("partner", slug),
            partner_id=slug,
            name=check_text(name, "name", max_length=200),
            category=kind.value,
            tier=parse_choice(Tier, tier, "tier").value,
            scopes=check_scopes(scopes, kind),
            client_id=f"partner_{slug}",
        )

    def set_client_secret(self, *, secret_hash: str, at: datetime) -> None:
        """Record a new OAuth client secret hash (the secret itself never reaches the ledger)."""
        if not secret_hash or len(secret_hash) > 512 or not secret_hash.isascii():
            raise InvalidCommand("secret_hash must be an ASCII hash string", field="secret_hash")
        self.trigger_event(self.ClientSecretSet, secret_hash=secret_hash, set_at=format_timestamp(at))

    def change_tier(self, tier: str) -> None:
        target = parse_choice(Tier, tier, "tier")
        if target is not self.tier:
            self.trigger_event(self.TierChanged, tier=target.value, previous_tier=self.tier.value)

    def set_scopes(self, scopes: Sequence[str]) -> None:
        target = check_scopes(scopes, self.category)
        if tuple(target) != self.scopes:
            self.trigger_event(self.ScopesChanged, scopes=target, previous_scopes=list(self.scopes))

    def suspend(self, reason: str) -> None:
        check_text(reason, "reason", max_length=500)
        if self.status is PartnerStatus.ACTIVE:
            self.trigger_event(self.Suspended, reason=reason)

    def reinstate(self) -> None:
        if self.status is PartnerStatus.SUSPENDED:
            self.trigger_event(self.Reinstated)

    def issue_api_key(self, *, key_id: str, secret_sha256: str, at: datetime) -> None:
        """Add a key (by id and secret hash). At most :data:`MAX_ACTIVE_KEYS` may be active at once."""
        self._require_active("issue_api_key")
        check_new_key(self.api_keys, key_id, secret_sha256, at)
        self.trigger_event(
            self.ApiKeyIssued, key_id=key_id, secret_sha256=secret_sha256, issued_at=format_timestamp(at)
        )

    def rotate_api_key(
        self, *, old_key_id: str, key_id: str, secret_sha256: str, at: datetime, overlap: timedelta = DEFAULT_OVERLAP
    ) -> None:
        """Replace an active key: the new key works at once, the old one until ``at + overlap`` (<= 30 days)."""
        self._require_active("rotate_api_key")
        old = self._key(old_key_id)
        if old.status(at) is not ApiKeyStatus.ACTIVE:
            raise InvalidTransition("api_key", old.status(at), "rotate")
        if not timedelta(0) <= overlap <= MAX_OVERLAP:
            raise InvalidCommand("overlap must be between 0 and 30 days", field="overlap", value=str(overlap))
        check_new_key(self.api_keys, key_id, secret_sha256, at, replacing=1)
        expires = format_timestamp(at + overlap)
        if old.expires_at is not None:
            expires = min(expires, old.expires_at)
        self.trigger_event(
            self.ApiKeyRotated,
            key_id=key_id,
            secret_sha256=secret_sha256,
            issued_at=format_timestamp(at),
            replaced_key_id=old_key_id,
            replaced_key_expires_at=expires,
        )

    def revoke_api_key(self, *, key_id: str, at: datetime, reason: str) -> None:
        """Revoke a key now (allowed even while suspended); revoking a revoked key records nothing."""
        check_text(reason, "reason", max_length=500)
        if self._key(key_id).revoked_at is None:
            self.trigger_event(self.ApiKeyRevoked, key_id=key_id, revoked_at=format_timestamp(at), reason=reason)

    def authenticate(self, key_id: str, secret: str, now: datetime) -> bool:
        """True iff the partner is active and ``secret`` matches the active key ``key_id`` (constant time),
        and the key is younger than the partner's maximum key age."""
        key = self.api_keys.get(key_id)
        if key is None or self.status is not PartnerStatus.ACTIVE or key.status(now) is not ApiKeyStatus.ACTIVE:
            return False
        schedule = key_schedule(key, self.key_max_age_days)
        if schedule is not None and now >= schedule.expires_at:
            return False
        return hmac.compare_digest(key.secret_sha256, secret_sha256(secret))

    def set_key_max_age(self, max_age_days: int | None) -> None:
        """Set (or clear, with None) the maximum age of the partner's API keys; the same value records nothing."""
        days = check_key_max_age(max_age_days)
        if days != self.key_max_age_days:
            self.trigger_event(self.ApiKeyMaxAgeSet, max_age_days=days)

    def key_schedule(self, key_id: str) -> KeySchedule | None:
        """When key ``key_id`` reaches the maximum age and when its warning starts (None: no maximum)."""
        return key_schedule(self._key(key_id), self.key_max_age_days)

    def warn_key_expiring(self, key_id: str, now: datetime) -> bool:
        """Record ``partner.api_key_expiring`` once, when an active key is inside its warning window.

        Returns whether it was recorded now (False: not due, already recorded, or the key is inactive).
        """
        key = self._key(key_id)
        schedule = key_schedule(key, self.key_max_age_days)
        if (
            schedule is None
            or key_id in self.expiry_warned
            or key.status(now) is not ApiKeyStatus.ACTIVE
            or not schedule.warn_from <= now < schedule.expires_at
        ):
            return False
        self.trigger_event(self.ApiKeyExpiring, key_id=key_id, expires_at=format_timestamp(schedule.expires_at))
        return True

    def _key(self, key_id: str) -> ApiKey:
        key = self.api_keys.get(key_id)
        if key is None:
            raise NotFound("api_key", str(key_id))
        return key

    def add_webhook(self, endpoint_id: str, **settings: Unpack[WebhookSettings]) -> None:
        """Add an endpoint (at most :data:`MAX_WEBHOOKS`); ``settings``: url, event_types, secret_id."""
        self._require_active("add_webhook")
        if check_endpoint_id(endpoint_id) in self.webhooks:
            raise InvalidCommand("endpoint_id already exists", field="endpoint_id", value=endpoint_id)
        if len(self.webhooks) >= MAX_WEBHOOKS:
            raise InvalidCommand(f"at most {MAX_WEBHOOKS} webhook endpoints", field="endpoint_id")
        self.trigger_event(self.WebhookAdded, endpoint_id=endpoint_id, **check_webhook_settings(**settings))

    def update_webhook(self, endpoint_id: str, **settings: Unpack[WebhookSettings]) -> None:
        """Replace an endpoint's URL, event types and secret id (identical values record nothing)."""
        checked = check_webhook_settings(**settings)
        if checked != self._endpoint(endpoint_id).settings():
            self.trigger_event(self.WebhookUpdated, endpoint_id=endpoint_id, **checked)

    def rotate_webhook_secret(
        self, endpoint_id: str, *, secret_id: str, at: datetime, overlap: timedelta = DEFAULT_OVERLAP
    ) -> None:
        """Sign with ``secret_id`` from now on; the current secret also signs until ``at + overlap`` (<= 30 days)."""
        endpoint = self._endpoint(endpoint_id)
        if not timedelta(0) <= overlap <= MAX_OVERLAP:
            raise InvalidCommand("overlap must be between 0 and 30 days", field="overlap", value=str(overlap))
        if check_secret_id(secret_id) in {endpoint.secret_id, endpoint.previous_secret_id}:
            raise InvalidCommand("secret_id was already used by this endpoint", field="secret_id", value=secret_id)
        self.trigger_event(
            self.WebhookSecretRotated,
            endpoint_id=endpoint_id,
            secret_id=secret_id,
            previous_secret_id=endpoint.secret_id,
            previous_secret_expires_at=format_timestamp(at + overlap),
        )

    def disable_webhook(self, endpoint_id: str, reason: str) -> None:
        check_text(reason, "reason", max_length=500)
        if self._endpoint(endpoint_id).enabled:
            self.trigger_event(self.WebhookDisabled, endpoint_id=endpoint_id, reason=reason)

    def enable_webhook(self, endpoint_id: str) -> None:
        if not self._endpoint(endpoint_id).enabled:
            self._require_active("enable_webhook")
            self.trigger_event(self.WebhookEnabled, endpoint_id=endpoint_id)

    def remove_webhook(self, endpoint_id: str) -> None:
        self._endpoint(endpoint_id)
        self.trigger_event(self.WebhookRemoved, endpoint_id=endpoint_id)

    def set_ip_allowlist(self, cidrs: Sequence[str]) -> None:
        """Replace the IP allowlist (:func:`~ledger_core.partners.access.check_ip_allowlist`); an empty list
        clears it. The same list again records nothing."""
        target = check_ip_allowlist(list(cidrs))
        if tuple(target) != self.ip_allowlist:
            self.trigger_event(self.IpAllowlistSet, cidrs=target, previous_cidrs=list(self.ip_allowlist))

    def allows_address(self, address: str) -> bool:
        """Whether a request from ``address`` may act for this partner (its allowlist; none: any address)."""
        return address_allowed(self.ip_allowlist, address)

    def endpoints_for(self, event_type: str) -> list[WebhookEndpoint]:
        """Enabled endpoints subscribed to ``event_type`` (none while suspended)."""
        if self.status is not PartnerStatus.ACTIVE:
            return []
        return [e for e in self.webhooks.values() if e.enabled and event_type in e.event_types]

    def _endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        endpoint = self.webhooks.get(endpoint_id)
        if endpoint is None:
            raise NotFound("webhook_endpoint", str(endpoint_id))
        return endpoint

    def _require_active(self, attempted: str) -> None:
        if self.status is not PartnerStatus.ACTIVE:
            raise InvalidTransition("partner", self.status.value, attempted)
