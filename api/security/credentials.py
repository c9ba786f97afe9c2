"""Partner credentials on top of the Partner aggregate: OAuth client secrets, API keys, and their lookup.

* The **OAuth client secret** (``cs_`` + 256 random bits) of ``client_id`` ``partner_<slug>`` is
  recorded only as its salted scrypt hash (``partner.client_secret_set``); ``POST /oauth/token``
  checks it in constant time. Rotating it replaces the hash: the old secret stops at once.
* An **API key** (``pk_...``, ``X-API-Key``) is recorded as its id and the SHA-256 of its secret; its
  ``apiSecret`` (the HMAC key of ``X-Signature``) is derived from the deployment secret and the key id
  (:mod:`api.security.secrets`), so the server recomputes it while storing nothing. API keys rotate
  with an overlap window (the old key keeps working until it ends) and can be revoked.

:class:`PartnerDirectory` answers the per-request questions (which key belongs to which partner, is
it active, what tier and scopes the partner has) from the Partner aggregate, cached for ``ttl``
seconds, so a revocation or suspension takes effect within that time on every worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from api.security.secrets import api_key_factory, hash_client_secret, new_client_credentials, verify_client_secret
from api.security.verifier import ApiKeyRecord
from ledger_core.engine.errors import NotFound
from ledger_core.ledger import Ledger
from ledger_core.partners.access import DEFAULT_OVERLAP, ApiKeyStatus, key_schedule
from ledger_core.partners.partner import Partner
from ledger_core.partners.service import PartnerService
from ledger_core.shared.validation import parse_timestamp
from ledger_core.shared.vocabulary import OPERATIONS_SCOPE, PartnerCategory, PartnerStatus, Tier

API_KEY_PREFIX = "pk_"
CLIENT_ID_PREFIX = "partner_"
DEFAULT_SCOPES = ("audit:read", "claims:read", "claims:write", "documents:read", "documents:write")


@dataclass(frozen=True, slots=True)
class PartnerCredentials:
    """What ``ledger partners create`` prints once: the secrets are stored nowhere (only their hashes)."""

    partner_id: str
    client_id: str
    client_secret: str = field(repr=False)
    api_key: str
    api_secret: str = field(repr=False)
    tier: str
    scopes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "partnerId": self.partner_id,
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "apiKey": self.api_key,
            "apiSecret": self.api_secret,
            "tier": self.tier,
            "scopes": list(self.scopes),
        }


class CredentialService:
    """Creates partners with credentials and rotates their keys (used by the CLI and ``make serve``)."""

    def __init__(self, ledger: Ledger, deployment_secret: bytes) -> None:
        self.ledger = ledger
        self._api_keys = PartnerService(ledger.app, ledger.partners.clock, api_key_factory(deployment_secret))

    def create_partner(
        self, partner_id: str, name: str, *, tier: str, category: str, scopes: Sequence[str] = DEFAULT_SCOPES
    ) -> PartnerCredentials:
        registered = self.ledger.partners.register(
            partner_id=partner_id, name=name, category=category, tier=tier, scopes=scopes
        )
        partner = self.ledger.partners.get(registered.partner_id)
        client = new_client_credentials(partner.client_id)
        self.ledger.partners.set_client_secret(registered.partner_id, client.secret_hash)
        key = self._api_keys.issue_api_key(registered.partner_id)
        return PartnerCredentials(
            registered.partner_id,
            partner.client_id,
            client.client_secret,
            key.key_id,
            key.secret,
            partner.tier.value,
            partner.scopes,
        )

    def create_operator(self, operator_id: str, name: str) -> PartnerCredentials:
        """Credentials for the operations side: category ``operations``, scope ``operations`` only.

        The same zero-trust gate, token and signature flow as a partner's; partners can never hold the
        ``operations`` scope and an operator can hold nothing else (see ``check_scopes``).
        """
        return self.create_partner(
            operator_id,
            name,
            tier=Tier.ENTERPRISE.value,
            category=PartnerCategory.OPERATIONS.value,
            scopes=(OPERATIONS_SCOPE,),
        )

    def rotate(
        self, partner_id: str, key_id: str | None = None, *, overlap: timedelta = DEFAULT_OVERLAP
    ) -> dict[str, Any]:
        """Rotate the partner's newest active API key (or ``key_id``); the new secret, shown once."""
        partner = self.ledger.partners.get(partner_id)
        old = key_id or _newest_active(partner, self.ledger.partners.clock())
        if old is None or not old.startswith(API_KEY_PREFIX):
            raise NotFound("api_key", key_id or f"{API_KEY_PREFIX}*")
        issued = self._api_keys.rotate_api_key(partner_id, old, overlap)
        return {
            "partnerId": partner_id,
            "apiKey": issued.key_id,
            "apiSecret": issued.secret,
            "replacedKey": old,
            "replacedKeyExpiresAt": issued.replaced_key_expires_at,
        }

    def rotate_client_secret(self, partner_id: str) -> dict[str, Any]:
        """Replace the OAuth client secret (the old one stops working at once); the new one, shown once."""
        partner = self.ledger.partners.get(partner_id)
        client = new_client_credentials(partner.client_id)
        self.ledger.partners.set_client_secret(partner_id, client.secret_hash)
        return {"partnerId": partner_id, "clientId": partner.client_id, "clientSecret": client.client_secret}

    def reissue(self, partner_id: str) -> dict[str, Any]:
        """New credentials for a partner who lost theirs: a new client secret and a new API key, the old
        ones stopping at once (no overlap: whoever holds them may not be the partner). Shown once."""
        client = self.rotate_client_secret(partner_id)
        key = self.rotate(partner_id, overlap=timedelta(0))
        return {**client, "apiKey": key["apiKey"], "apiSecret": key["apiSecret"], "revokedKey": key["replacedKey"]}


def _newest_active(partner: Partner, now: datetime) -> str | None:
    keys = [
        k
        for k in partner.api_keys.values()
        if k.key_id.startswith(API_KEY_PREFIX) and k.status(now) is ApiKeyStatus.ACTIVE
    ]
    return max(keys, key=lambda k: k.issued_at).key_id if keys else None


def api_key_record(partner_id: str, partner: Partner | None, key_id: str) -> ApiKeyRecord | None:
    """The record of API key ``key_id`` if it is a ``pk_`` key of ``partner`` (``partner_id``); None otherwise."""
    key = None if partner is None or not key_id.startswith(API_KEY_PREFIX) else partner.api_keys.get(key_id)
    if partner is None or key is None:
        return None
    active = key.revoked_at is None and partner.status is PartnerStatus.ACTIVE
    expires = None if key.expires_at is None else parse_timestamp(key.expires_at, "expires_at")
    schedule = key_schedule(key, partner.key_max_age_days)
    return ApiKeyRecord(partner_id, active, expires, None if schedule is None else schedule.expires_at)


def partner_id_of_client(client_id: str) -> str | None:
    """``partner_<slug>`` -> ``slug`` (None for any other client id)."""
    return client_id.removeprefix(CLIENT_ID_PREFIX) if client_id.startswith(CLIENT_ID_PREFIX) else None


class PartnerDirectory:
    """Cached reads of Partner aggregates for authentication, authorization and rate limiting."""

    def __init__(self, ledger: Ledger, clock: Callable[[], datetime], ttl: float = 1.0) -> None:
        self.ledger = ledger
        self.clock = clock
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Partner | None]] = {}
        self._dummy: str | None = None

    def partner(self, partner_id: str) -> Partner | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(partner_id)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        try:
            partner: Partner | None = self.ledger.partners.get(partner_id)
        except (NotFound, ValueError):
            partner = None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[partner_id] = (now, partner)
        return partner

    def cached(self, partner_id: str) -> tuple[bool, Partner | None]:
        """``(True, partner)`` if :meth:`partner` would answer from its cache (reading nothing), else
        ``(False, None)``."""
        with self._lock:
            cached = self._cache.get(partner_id)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return True, cached[1]
        return False, None

    def api_key(self, partner_id: str, key_id: str) -> ApiKeyRecord | None:
        """The record of API key ``key_id`` if it is a ``pk_`` key of ``partner_id``; None otherwise."""
        return api_key_record(partner_id, self.partner(partner_id), key_id)

    def authenticate_client(self, client_id: str, client_secret: str) -> Partner | None:
        """The active partner whose OAuth client ``client_id`` has the secret ``client_secret``, or None.

        Unknown clients cost the same scrypt work as known ones (no timing hint about which exist).
        """
        partner_id = partner_id_of_client(client_id)
        partner = None if partner_id is None else self.partner(partner_id)
        stored = None if partner is None or partner.client_id != client_id else partner.client_secret_hash
        matched = verify_client_secret(client_secret, stored or self._dummy_hash())
        if partner is None or stored is None or not matched or partner.status is not PartnerStatus.ACTIVE:
            return None
        return partner

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = hash_client_secret("not a client secret")
        return self._dummy
