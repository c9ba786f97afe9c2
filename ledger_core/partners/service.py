"""Partner use cases: :class:`PartnerService` runs the :class:`~ledger_core.partners.partner.Partner`
aggregate's commands against a :class:`LedgerApplication` and saves what they record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Unpack

from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import ConcurrencyConflict, InvalidTransition
from ledger_core.engine.ports import Clock
from ledger_core.partners.access import (
    DEFAULT_OVERLAP,
    IssuedApiKey,
    PartnerResult,
    WebhookSettings,
    new_api_key,
    secret_sha256,
)
from ledger_core.partners.partner import Partner
from ledger_core.shared.service_support import save
from ledger_core.shared.validation import check_partner_slug


class PartnerService:
    """Partner commands against a :class:`LedgerApplication`; ``clock`` stamps key issue/revoke times."""

    def __init__(
        self, app: LedgerApplication, clock: Clock, key_factory: Callable[[], tuple[str, str]] = new_api_key
    ) -> None:
        self.app = app
        self.clock = clock
        self.key_factory = key_factory

    def get(self, partner_id: str) -> Partner:
        return self.app.load(Partner, derive_id("partner", partner_id), "partner", partner_id)

    def register(self, *, partner_id: str, name: str, category: str, tier: str, scopes: Sequence[str]) -> PartnerResult:
        """Register a new partner; an existing partner id raises :class:`InvalidTransition`."""
        slug = check_partner_slug(partner_id)
        if self.app.find(Partner, derive_id("partner", slug)) is not None:
            raise InvalidTransition("partner", "registered", "register")
        partner = Partner.register(partner_id=slug, name=name, category=category, tier=tier, scopes=scopes)
        return PartnerResult(slug, partner.id, save(self.app, partner))

    def set_client_secret(self, partner_id: str, secret_hash: str) -> PartnerResult:
        """Record the hash of a new OAuth client secret (hashing is the caller's: see api/security)."""
        partner = self.get(partner_id)
        partner.set_client_secret(secret_hash=secret_hash, at=self.clock())
        return PartnerResult(partner_id, partner.id, save(self.app, partner))

    def issue_api_key(self, partner_id: str) -> IssuedApiKey:
        partner = self.get(partner_id)
        key_id, secret = self.key_factory()
        partner.issue_api_key(key_id=key_id, secret_sha256=secret_sha256(secret), at=self.clock())
        return IssuedApiKey(partner_id, key_id, secret, save(self.app, partner))

    def rotate_api_key(self, partner_id: str, old_key_id: str, overlap: timedelta = DEFAULT_OVERLAP) -> IssuedApiKey:
        partner = self.get(partner_id)
        key_id, secret = self.key_factory()
        partner.rotate_api_key(
            old_key_id=old_key_id, key_id=key_id, secret_sha256=secret_sha256(secret), at=self.clock(), overlap=overlap
        )
        expires = partner.api_keys[old_key_id].expires_at
        return IssuedApiKey(partner_id, key_id, secret, save(self.app, partner), expires)

    def revoke_api_key(self, partner_id: str, key_id: str, reason: str) -> PartnerResult:
        return self._run(partner_id, lambda p: p.revoke_api_key(key_id=key_id, at=self.clock(), reason=reason))

    def authenticate(self, partner_id: str, key_id: str, secret: str) -> bool:
        """True iff the partner exists, is active and ``secret`` matches its active key ``key_id``."""
        partner = self.app.find(Partner, derive_id("partner", partner_id))
        return partner is not None and partner.authenticate(key_id, secret, self.clock())

    def set_key_max_age(self, partner_id: str, max_age_days: int | None) -> PartnerResult:
        """Set the partner's API key rotation schedule (docs/authentication.md "Key rotation schedule")."""
        return self._run(partner_id, lambda p: p.set_key_max_age(max_age_days))

    def warn_key_expiring(self, partner_id: str, key_id: str) -> PartnerResult:
        """Record that key ``key_id`` entered its warning window, once (a concurrent recording wins)."""
        for attempt in range(2):
            partner = self.get(partner_id)
            if not partner.warn_key_expiring(key_id, self.clock()):
                return PartnerResult(partner_id, partner.id, ())
            try:
                return PartnerResult(partner_id, partner.id, save(self.app, partner))
            except ConcurrencyConflict:
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises

    def change_tier(self, partner_id: str, tier: str) -> PartnerResult:
        return self._run(partner_id, lambda p: p.change_tier(tier))

    def set_scopes(self, partner_id: str, scopes: Sequence[str]) -> PartnerResult:
        return self._run(partner_id, lambda p: p.set_scopes(scopes))

    def suspend(self, partner_id: str, reason: str) -> PartnerResult:
        return self._run(partner_id, lambda p: p.suspend(reason))

    def reinstate(self, partner_id: str) -> PartnerResult:
        return self._run(partner_id, lambda p: p.reinstate())

    def add_webhook(self, partner_id: str, endpoint_id: str, **settings: Unpack[WebhookSettings]) -> PartnerResult:
        return self._run(partner_id, lambda p: p.add_webhook(endpoint_id, **settings))

    def update_webhook(self, partner_id: str, endpoint_id: str, **settings: Unpack[WebhookSettings]) -> PartnerResult:
        return self._run(partner_id, lambda p: p.update_webhook(endpoint_id, **settings))

    def rotate_webhook_secret(
        self, partner_id: str, endpoint_id: str, secret_id: str, overlap: timedelta = DEFAULT_OVERLAP
    ) -> PartnerResult:
        at = self.clock()
        return self._run(
            partner_id, lambda p: p.rotate_webhook_secret(endpoint_id, secret_id=secret_id, at=at, overlap=overlap)
        )

    def disable_webhook(self, partner_id: str, endpoint_id: str, reason: str) -> PartnerResult:
        return self._run(partner_id, lambda p: p.disable_webhook(endpoint_id, reason))

    def enable_webhook(self, partner_id: str, endpoint_id: str) -> PartnerResult:
        return self._run(partner_id, lambda p: p.enable_webhook(endpoint_id))

    def remove_webhook(self, partner_id: str, endpoint_id: str) -> PartnerResult:
        return self._run(partner_id, lambda p: p.remove_webhook(endpoint_id))

    def set_ip_allowlist(self, partner_id: str, cidrs: Sequence[str]) -> PartnerResult:
        """Replace the partner's IP allowlist (an empty list clears it)."""
        return self._run(partner_id, lambda p: p.set_ip_allowlist(cidrs))

    def _run(self, partner_id: str, command: Callable[[Partner], None]) -> PartnerResult:
        partner = self.get(partner_id)
        command(partner)
        return PartnerResult(partner_id, partner.id, save(self.app, partner))
