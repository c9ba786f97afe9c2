"""Value types and validators for a partner's credentials and webhook endpoints (used by :mod:`partners`).

API keys: the ledger stores a key id and the SHA-256 of the secret, never the secret (secrets are 256-bit
random strings, so an unsalted hash is enough). Webhook endpoints hold the *id* of their signing secret;
the secret itself lives in the key store. Webhook URLs must be ``https`` (seed 000 §6.2); plain ``http``
is accepted only for loopback hosts, for local development.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypedDict
from urllib.parse import urlsplit
from uuid import UUID

from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.validation import check_sha256_hex, check_string_list, parse_timestamp
from ledger_core.shared.vocabulary import OPERATIONS_SCOPE, SCOPES, WEBHOOK_EVENT_TYPES, PartnerCategory

_KEY_ID = re.compile(r"[A-Za-z0-9_-]{4,64}")
_ENDPOINT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SECRET_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_URL_LENGTH = 2048
MAX_ACTIVE_KEYS = 5
MAX_WEBHOOKS = 10
MAX_OVERLAP = timedelta(days=30)
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_ALLOWLIST = 64
"""CIDRs in one partner's IP allowlist (seed 000 section 6.1: the partner's egress ranges)."""
MAX_KEY_AGE_DAYS = 3650
"""The longest maximum key age a partner may be given (seed 000 §6.1 "API key rotation schedule")."""
KEY_EXPIRY_WARNING = timedelta(days=14)
"""How long before a key reaches the maximum age the partner is warned (a quarter of the age if shorter)."""


class ApiKeyStatus(StrEnum):
    """Where an API key stands at a given moment (the value is what ``ledger partners show`` prints)."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's metadata. ``expires_at`` is set when the key was rotated out (the overlap window)."""

    key_id: str
    secret_sha256: str
    issued_at: str
    expires_at: str | None = None
    revoked_at: str | None = None

    def status(self, now: datetime) -> ApiKeyStatus:
        """The key's state at ``now``: revoked wins over expired."""
        if self.revoked_at is not None:
            return ApiKeyStatus.REVOKED
        if self.expires_at is not None and now >= parse_timestamp(self.expires_at, "expires_at"):
            return ApiKeyStatus.EXPIRED
        return ApiKeyStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class KeySchedule:
    """When a key reaches its partner's maximum age (``expires_at``) and when the warning starts."""

    expires_at: datetime
    warn_from: datetime


def key_schedule(key: ApiKey, max_age_days: int | None) -> KeySchedule | None:
    """The key's schedule under a maximum age of ``max_age_days`` (None: keys do not age out).

    The warning starts :data:`KEY_EXPIRY_WARNING` before the deadline, or a quarter of the age before it
    when the age is shorter than four times that.
    """
    if max_age_days is None:
        return None
    age = timedelta(days=max_age_days)
    expires = parse_timestamp(key.issued_at, "issued_at") + age
    return KeySchedule(expires, expires - min(KEY_EXPIRY_WARNING, age / 4))


def check_key_max_age(value: Any) -> int | None:
    """A maximum key age in whole days, 1 to :data:`MAX_KEY_AGE_DAYS`, or None (no maximum)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_KEY_AGE_DAYS:
        raise InvalidCommand(
            f"max_age_days must be a whole number of days from 1 to {MAX_KEY_AGE_DAYS}, or null",
            field="max_age_days",
            value=str(value)[:40],
        )
    return value


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """Where and what to deliver: URL, subscribed event types, signing secret id, enabled flag."""

    endpoint_id: str
    url: str
    event_types: tuple[str, ...]
    secret_id: str
    enabled: bool = True
    disabled_reason: str | None = None
    previous_secret_id: str | None = None
    """After a secret rotation: the replaced secret, which keeps signing until ``previous_secret_expires_at``."""
    previous_secret_expires_at: str | None = None

    def settings(self) -> dict[str, Any]:
        """The endpoint's configurable fields as event fields."""
        return {"url": self.url, "event_types": list(self.event_types), "secret_id": self.secret_id}

    def signing_secret_ids(self, now: datetime) -> list[str]:
        """The secret ids that sign deliveries at ``now``: the current one, then the replaced one in its overlap."""
        ids = [self.secret_id]
        expires = self.previous_secret_expires_at
        if (
            self.previous_secret_id is not None
            and expires is not None
            and now < parse_timestamp(expires, "previous_secret_expires_at")
        ):
            ids.append(self.previous_secret_id)
        return ids


class WebhookSettings(TypedDict):
    """The configurable fields of a webhook endpoint."""

    url: str
    event_types: Sequence[str]
    secret_id: str


def active_key_ids(keys: Mapping[str, ApiKey], now: datetime) -> list[str]:
    return [key.key_id for key in keys.values() if key.status(now) is ApiKeyStatus.ACTIVE]


def check_new_key(keys: Mapping[str, ApiKey], key_id: str, sha256: str, now: datetime, replacing: int = 0) -> None:
    """A new key needs a fresh id, a SHA-256 and room: at most :data:`MAX_ACTIVE_KEYS` active (after rotation)."""
    check_key_id(key_id)
    check_sha256_hex(sha256, "secret_sha256")
    if key_id in keys:
        raise InvalidCommand("key_id was already used", field="key_id", value=key_id)
    active = len(active_key_ids(keys, now)) - replacing
    if active >= MAX_ACTIVE_KEYS:
        raise InvalidCommand(f"at most {MAX_ACTIVE_KEYS} active keys", field="key_id", active=active)


def _check_pattern(pattern: re.Pattern[str], value: Any, field: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidCommand(f"{field} must match {pattern.pattern}", field=field, value=str(value)[:80])
    return value


def check_key_id(value: Any) -> str:
    return _check_pattern(_KEY_ID, value, "key_id")


def check_endpoint_id(value: Any) -> str:
    return _check_pattern(_ENDPOINT_ID, value, "endpoint_id")


def check_secret_id(value: Any) -> str:
    return _check_pattern(_SECRET_ID, value, "secret_id")


def check_webhook_url(value: Any) -> str:
    """An absolute https URL (http only for loopback), no credentials, no fragment, at most 2048 chars."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URL_LENGTH or re.search(r"[\x00-\x20\x7f]", value):
        raise InvalidCommand("url must be a URL without spaces of at most 2048 characters", field="url")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise InvalidCommand("url is malformed", field="url", value=value[:200]) from None
    if parts.scheme not in {"https", "http"} or not host:
        raise InvalidCommand("url must be an absolute https URL", field="url", value=value[:200])
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise InvalidCommand("webhook url must use https", field="url", value=value[:200])
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidCommand("url must not contain credentials or a fragment", field="url")
    return value


def check_event_types(value: Any) -> list[str]:
    """A non-empty subset of :data:`WEBHOOK_EVENT_TYPES`, returned sorted and without repeats."""
    types = check_string_list(value, "event_types", max_items=len(WEBHOOK_EVENT_TYPES), max_length=64)
    unknown = sorted(set(types) - WEBHOOK_EVENT_TYPES)
    if not types or unknown:
        raise InvalidCommand(
            "event_types must be a non-empty list of known event types",
            field="event_types",
            value=unknown,
            allowed=sorted(WEBHOOK_EVENT_TYPES),
        )
    return sorted(set(types))


def check_scopes(value: Any, category: PartnerCategory) -> list[str]:
    """Scopes for a principal of ``category``, returned sorted and without repeats.

    A partner holds a subset of :data:`SCOPES` (may be empty); an ``operations`` principal holds exactly
    :data:`OPERATIONS_SCOPE`. Neither can be granted the other's scopes.
    """
    scopes = check_string_list(value, "scopes", max_items=len(SCOPES) + 1, max_length=64)
    allowed = frozenset({OPERATIONS_SCOPE}) if category is PartnerCategory.OPERATIONS else SCOPES
    unknown = sorted(set(scopes) - allowed)
    if unknown:
        raise InvalidCommand(
            f"scopes {', '.join(unknown)} not allowed for a {category.value} principal",
            field="scopes",
            value=unknown,
            allowed=sorted(allowed),
        )
    if category is PartnerCategory.OPERATIONS and not scopes:
        raise InvalidCommand("an operations principal holds the operations scope", field="scopes", value=scopes)
    return sorted(set(scopes))


def check_webhook_settings(url: str, event_types: Sequence[str], secret_id: str) -> dict[str, Any]:
    """Validated webhook settings as event fields: url, event_types, secret_id."""
    return {
        "url": check_webhook_url(url),
        "event_types": check_event_types(event_types),
        "secret_id": check_secret_id(secret_id),
    }


def secret_sha256(secret: str) -> str:
    """Hex SHA-256 of an API key secret (what the ledger stores instead of the secret)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PartnerResult:
    partner_id: str
    aggregate_id: UUID
    positions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """A new key. ``secret`` is returned once and stored nowhere (kept out of ``repr``)."""

    partner_id: str
    key_id: str
    secret: str = field(repr=False)
    positions: tuple[int, ...]
    replaced_key_expires_at: str | None = None


def new_api_key() -> tuple[str, str]:
    """A fresh ``(key_id, secret)``: ``pk_`` + 16 hex digits, and 256 random bits in base64url."""
    return f"pk_{secrets.token_hex(8)}", secrets.token_urlsafe(32)


def check_ip_allowlist(value: Any) -> list[str]:
    """A partner's IP allowlist: at most :data:`MAX_ALLOWLIST` IPv4/IPv6 networks in CIDR notation (a bare
    address is one host), no host bits set (``10.0.0.5/8`` is refused as a likely typo), each once, sorted;
    an empty list means every address is allowed."""
    if not isinstance(value, list | tuple) or len(value) > MAX_ALLOWLIST:
        raise InvalidCommand(f"cidrs must be a list of at most {MAX_ALLOWLIST} networks", field="cidrs")
    networks: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
    for item in value:
        try:
            networks.add(ipaddress.ip_network(str(item).strip(), strict=True))
        except ValueError as error:
            raise InvalidCommand(
                f"not an IP network in CIDR notation: {error}", field="cidrs", value=str(item)[:64]
            ) from None
    return [str(net) for net in sorted(networks, key=lambda net: (net.version, net))]


def address_allowed(allowlist: Sequence[str], address: str) -> bool:
    """Whether ``address`` (an IP address as text) is in one of the ``allowlist`` networks; any address is
    allowed by an empty list, and nothing that is not an IP address by a non-empty one."""
    if not allowlist:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in map(ipaddress.ip_network, allowlist) if net.version == ip.version)
