"""Browser sessions: a short-lived access token and a rotating refresh token per sign-in (seed 001 §1.2).

A sign-in opens a *family*. Its access token lives minutes, its refresh token hours; presenting the refresh
token yields a new pair and uses the old refresh token up. Presenting a used refresh token again means it
was stolen or replayed: the whole family is revoked (OAuth 2.0 Security BCP, RFC 9700 section 4.14.2,
refresh token rotation with reuse detection). A family never outlives its absolute lifetime. Tokens are
256-bit random strings stored by SHA-256 digest only; the CSRF token of the family likewise. Logout
revokes the family; logout everywhere revokes every family of the account (so does deactivation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger_core.accounts.errors import CsrfRefused, RefreshTokenReused, SessionInvalid
from ledger_core.accounts.identity import SignedIn
from ledger_core.accounts.ports import SessionFamily, SessionStore, SessionToken, TokenKind
from ledger_core.engine.ports import Clock


def token_digest(token: str) -> str:
    """The stored form of a session token: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Lifetimes: access token (minutes), refresh token (hours), and the family's absolute limit."""

    access_ttl: timedelta = timedelta(minutes=5)
    refresh_ttl: timedelta = timedelta(hours=8)
    absolute_ttl: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """Tokens to set as cookies. ``csrf_token`` is only set when a family is opened (it lasts the family)."""

    family_id: str
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    csrf_token: str | None


@dataclass(frozen=True, slots=True)
class SessionPrincipal:
    """Who a live access token belongs to."""

    family_id: str
    account_id: str
    partner_id: str
    user_kind: str
    role: str | None
    provider_id: str
    expires_at: datetime
    csrf_digest: str

    def csrf_matches(self, token: str | None) -> bool:
        """Constant-time check of a request's CSRF token against the family's."""
        return token is not None and hmac.compare_digest(token_digest(token), self.csrf_digest)


class SessionService:
    """Opens, checks, rotates and revokes sessions in a shared :class:`SessionStore`."""

    def __init__(
        self,
        store: SessionStore,
        clock: Clock,
        policy: SessionPolicy | None = None,
        account_active: Callable[[str], bool] | None = None,
    ) -> None:
        """``account_active`` (account id -> still active?) is asked at every refresh, so a deactivated
        account loses its sessions within one access-token lifetime even where nobody revoked them."""
        self.store = store
        self.clock = clock
        self.policy = policy or SessionPolicy()
        self.account_active = account_active

    def open(self, signed_in: SignedIn, session_ref: str | None = None) -> IssuedSession:
        """A new family for ``signed_in``."""
        now = self.clock()
        csrf = secrets.token_urlsafe(32)
        family = SessionFamily(
            family_id=secrets.token_hex(16),
            account_id=signed_in.account_id,
            partner_id=signed_in.partner_id,
            user_kind=signed_in.user_kind.value,
            role=None if signed_in.role is None else signed_in.role.value,
            provider_id=signed_in.provider_id,
            session_ref=session_ref,
            csrf_digest=token_digest(csrf),
            created_at=now,
            expires_at=now + self.policy.absolute_ttl,
        )
        issued, tokens = self._pair(family, now, csrf)
        self.store.open_family(family, tokens)
        return issued

    def authenticate(self, access_token: str | None) -> SessionPrincipal:
        """The principal of a live access token; :class:`SessionInvalid` otherwise."""
        if not access_token:
            raise SessionInvalid("missing")
        token, family = self._live(access_token, TokenKind.ACCESS)
        return SessionPrincipal(
            family.family_id,
            family.account_id,
            family.partner_id,
            family.user_kind,
            family.role,
            family.provider_id,
            min(token.expires_at, family.expires_at),
            family.csrf_digest,
        )

    def refresh(self, refresh_token: str | None, csrf_token: str | None) -> IssuedSession:
        """A new pair for a live refresh token, which is used up; a reused one revokes its family.

        ``csrf_token`` must be the family's (the request is state-changing: double-submit check)."""
        if not refresh_token:
            raise SessionInvalid("missing")
        token, family = self._live(refresh_token, TokenKind.REFRESH, allow_used=True)
        if csrf_token is None or not hmac.compare_digest(token_digest(csrf_token), family.csrf_digest):
            raise CsrfRefused()
        now = self.clock()
        if self.account_active is not None and not self.account_active(family.account_id):
            self.store.revoke_family(family.family_id, now)
            raise SessionInvalid("deactivated")
        if token.used_at is not None or not self.store.mark_used(token.digest, now):
            self.store.revoke_family(family.family_id, now)
            raise RefreshTokenReused(family.family_id)
        issued, tokens = self._pair(family, now, None)
        self.store.add_tokens(tokens)
        return issued

    def logout(self, principal: SessionPrincipal) -> int:
        return self.store.revoke_family(principal.family_id, self.clock())

    def logout_everywhere(self, account_id: str) -> int:
        """Revoke every session of the account (also called on deactivation)."""
        return self.store.revoke_account(account_id, self.clock())

    def logout_by_ref(self, partner_id: str, provider_id: str, session_ref: str) -> int:
        """IdP-initiated logout: revoke the families the provider's logout request names."""
        return self.store.revoke_by_ref(partner_id, provider_id, session_ref, self.clock())

    def _live(self, token: str, kind: TokenKind, allow_used: bool = False) -> tuple[SessionToken, SessionFamily]:
        found = self.store.find(token_digest(token))
        if found is None:
            raise SessionInvalid("unknown")
        stored, family = found
        now = self.clock()
        if stored.kind is not kind:
            raise SessionInvalid("wrong_kind")
        if family.revoked_at is not None:
            raise SessionInvalid("revoked")
        if stored.expires_at <= now or family.expires_at <= now:
            raise SessionInvalid("expired")
        if stored.used_at is not None and not allow_used:
            raise SessionInvalid("used")
        return stored, family

    def _pair(self, family: SessionFamily, now: datetime, csrf: str | None) -> tuple[IssuedSession, list[SessionToken]]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        access_expires = min(now + self.policy.access_ttl, family.expires_at)
        refresh_expires = min(now + self.policy.refresh_ttl, family.expires_at)
        tokens = [
            SessionToken(token_digest(access), family.family_id, TokenKind.ACCESS, access_expires),
            SessionToken(token_digest(refresh), family.family_id, TokenKind.REFRESH, refresh_expires),
        ]
        issued = IssuedSession(family.family_id, access, access_expires, refresh, refresh_expires, csrf)
        return issued, tokens
