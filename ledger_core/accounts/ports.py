"""Ports of the accounts context: sealing personal attributes, session state, one-time values.

The session and one-time stores are shared by every API worker (adapters: ``sso_*`` tables on SQLite and
PostgreSQL), so a refresh token rotated by one worker, a SAML request id issued by another or an
assertion id seen by a third is known to all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class PersonalDataSealer(Protocol):
    """Seals personal attributes under a per-subject key (``ledger_core.members.privacy.PersonalDataVault``)."""

    def seal_fields(
        self, subject: str, values: Mapping[str, str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
        """``(sealed value by field, commitment by field)`` for every ``field -> plaintext``."""
        ...

    def seal(self, subject: str, field: str, plaintext: str) -> dict[str, Any]: ...

    def open(self, subject: str, field: str, sealed: Mapping[str, Any]) -> str: ...

    def erase(self, subject: str) -> int: ...


class TokenKind(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class SessionFamily:
    """One sign-in and every access/refresh token rotated from it. ``expires_at`` is absolute (no refresh
    extends it); ``session_ref`` is the protocol adapter's opaque handle for IdP-initiated logout."""

    family_id: str
    account_id: str
    partner_id: str
    user_kind: str
    role: str | None
    provider_id: str
    session_ref: str | None
    csrf_digest: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionToken:
    """A token of a family, stored by its SHA-256 digest only (a database dump holds no usable token)."""

    digest: str
    family_id: str
    kind: TokenKind
    expires_at: datetime
    used_at: datetime | None = None


class SessionStore(Protocol):
    """Session families and their tokens, shared by every worker."""

    def open_family(self, family: SessionFamily, tokens: Sequence[SessionToken]) -> None: ...

    def add_tokens(self, tokens: Sequence[SessionToken]) -> None: ...

    def find(self, digest: str) -> tuple[SessionToken, SessionFamily] | None:
        """The token with ``digest`` and its family, or None."""
        ...

    def mark_used(self, digest: str, at: datetime) -> bool:
        """Mark a token used; True for exactly one caller (atomic across workers), False if already used."""
        ...

    def revoke_family(self, family_id: str, at: datetime) -> int: ...

    def revoke_account(self, account_id: str, at: datetime) -> int:
        """Revoke every live family of an account (logout everywhere, deactivation); how many were live."""
        ...

    def revoke_by_ref(self, partner_id: str, provider_id: str, session_ref: str, at: datetime) -> int:
        """Revoke the live families an IdP-initiated logout names."""
        ...

    def purge(self, before: datetime) -> int:
        """Delete families and tokens that expired before ``before``."""
        ...


class OneTimeStore(Protocol):
    """Values used once within a lifetime: SAML request ids, assertion ids, ``sso_token`` ids, OIDC states."""

    def put(self, kind: str, key: str, expires_at: datetime) -> bool:
        """Remember ``(kind, key)`` until ``expires_at``; False if it is already remembered (a replay)."""
        ...

    def exists(self, kind: str, key: str, now: datetime) -> bool:
        """Whether ``(kind, key)`` is remembered and not expired (used or not)."""
        ...

    def use(self, kind: str, key: str, now: datetime) -> bool:
        """Mark a remembered, unexpired value used; True for exactly one caller."""
        ...
