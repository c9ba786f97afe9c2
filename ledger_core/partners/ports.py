"""Ports of the partners context: rate limits and the replay cache every API worker shares; theme files."""

from __future__ import annotations

from typing import Protocol


class RateLimitPolicy(Protocol):
    """A partner's rate-limit policy: ``limit`` requests per ``window_s`` (GCRA), ``burst`` back to back,
    and at most ``daily_quota`` per UTC day of ``day_s`` seconds (None: no daily cap)."""

    @property
    def name(self) -> str: ...

    @property
    def limit(self) -> int: ...

    @property
    def window_s(self) -> int: ...

    @property
    def burst(self) -> int: ...

    @property
    def daily_quota(self) -> int | None: ...

    @property
    def day_s(self) -> int: ...


class RateLimitDecision(Protocol):
    """The outcome of one rate-limit check; enough to write every rate-limit response header.

    ``remaining`` and ``reset_epoch`` (Unix seconds) describe the binding policy ``policy_name``
    (the per-window rate or the daily quota, whichever is tighter); ``retry_after_s`` is 0 when allowed.
    """

    @property
    def allowed(self) -> bool: ...

    @property
    def limit(self) -> int: ...

    @property
    def remaining(self) -> int: ...

    @property
    def reset_epoch(self) -> int: ...

    @property
    def retry_after_s(self) -> float: ...

    @property
    def policy_name(self) -> str: ...

    @property
    def rate_remaining(self) -> int: ...

    @property
    def rate_reset_after_s(self) -> float: ...

    @property
    def daily_remaining(self) -> int | None: ...

    @property
    def daily_reset_after_s(self) -> float | None: ...


class RateLimiter(Protocol):
    """Counts one request of ``partner_id`` against ``policy``, atomically for every worker that shares it."""

    def check(self, partner_id: str, policy: RateLimitPolicy) -> RateLimitDecision: ...


class ReplayCache(Protocol):
    """Remembers signed request ids per partner, so a captured request cannot be sent twice."""

    def remember(self, partner_id: str, request_id: str, ttl_s: int) -> bool:
        """True if ``request_id`` is new for ``partner_id`` (and is now remembered for ``ttl_s``); False if seen."""
        ...


class ThemeAssetStore(Protocol):
    """Partner theme files (logos, fonts) by content: the key is the lower-case hex SHA-256 of the bytes.

    Adapters: ``theme_assets`` in SQLite and PostgreSQL; :class:`~ledger_core.partners.theme_assets.MemoryThemeAssets`.
    """

    def put(self, sha256: str, media_type: str, data: bytes) -> None:
        """Keep ``data`` under ``sha256`` (the caller computed it); storing the same digest again changes nothing."""
        ...

    def get(self, sha256: str) -> tuple[str, bytes] | None:
        """``(media type, bytes)`` stored under ``sha256``, or None."""
        ...
