"""The OpenID Connect relying party: authorization code flow with PKCE, with authlib's httpx client.

:meth:`RelyingParty.begin` discovers the provider (OpenID Connect Discovery 1.0 section 4; the document's
``issuer`` must equal the configured one, section 4.3) and builds the authorization request (OIDC Core
section 3.1.2.1: ``response_type=code``, ``scope`` with ``openid``, ``state``, ``nonce``, and the RFC 7636
``code_challenge`` with method ``S256``). :meth:`RelyingParty.complete` checks the callback against the
browser's :class:`~adapters.oidc.pending.PendingLogin` (``state`` equal and spent once, the login not
older than ``login_ttl_s``), exchanges the code with the verifier (section 3.1.3), validates the id_token
(:mod:`adapters.oidc.id_token`), fetches userinfo with the access token (section 5.3; its ``sub`` must be
the id_token's, section 5.3.2) and returns an :class:`OidcIdentity`.

Every call to the provider has a timeout (``timeout_s``); a provider that does not answer, or refuses the
connection, is :attr:`~OidcCheck.PROVIDER_UNREACHABLE`. Discovery documents and JWKS are cached per
issuer for ``metadata_ttl_s``; a ``kid`` missing from the cached JWKS refetches it once (key rotation).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx2
from authlib.common.security import is_secure_transport
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from adapters.oidc.errors import OidcCheck, OidcLoginRefused
from adapters.oidc.id_token import IdTokenInvalid, validate_id_token
from adapters.oidc.pending import PendingLogin
from ledger_core.partners.ports import ReplayCache

_REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


@dataclass(frozen=True, slots=True)
class OidcClient:
    """What the partner registered for us at its provider (and gave us): issuer, client, redirect URI, scopes."""

    partner_id: str
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: tuple[str, ...] = ("openid", "profile", "email")

    def __post_init__(self) -> None:
        if "openid" not in self.scopes:
            raise ValueError("OIDC scopes must include 'openid' (OpenID Connect Core section 3.1.2.1)")

    def __repr__(self) -> str:  # the secret never reaches a log line
        return f"OidcClient(partner_id={self.partner_id!r}, issuer={self.issuer!r}, client_id={self.client_id!r})"


@dataclass(frozen=True, slots=True)
class OidcIdentity:
    """A validated OIDC login: the provider's subject, the merged id_token + userinfo claims, the tokens."""

    partner_id: str
    issuer: str
    subject: str
    claims: Mapping[str, Any]
    refresh_token: str | None
    access_expires_at: float | None


@dataclass
class _Provider:
    metadata: dict[str, Any]
    keys: KeySet
    fetched_at: float


@dataclass
class RelyingParty:
    """One relying party for every partner; ``replay`` spends each ``state`` once across workers."""

    replay: ReplayCache
    timeout_s: float = 10.0
    login_ttl_s: int = 600
    metadata_ttl_s: float = 3600.0
    leeway_s: int = 60
    clock: Callable[[], float] = time.time
    transport: httpx2.AsyncBaseTransport | None = None
    _providers: dict[str, _Provider] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    # -- the two steps ------------------------------------------------------------------------------
    async def begin(self, client: OidcClient, return_to: str = "/") -> tuple[str, PendingLogin]:
        """The provider's authorization URL to redirect the browser to, and the login to seal in its cookie."""
        provider = await self._provider(client)
        pending = PendingLogin.start(client.partner_id, self.clock(), return_to)
        async with self._oauth(client) as oauth:
            url, _ = oauth.create_authorization_url(
                provider.metadata["authorization_endpoint"],
                state=pending.state,
                code_verifier=pending.code_verifier,
                nonce=pending.nonce,
            )
        return str(url), pending

    async def complete(self, client: OidcClient, pending: PendingLogin, params: Mapping[str, str]) -> OidcIdentity:
        """Check the callback ``params`` against ``pending``, redeem the code, validate; or refuse."""
        partner = client.partner_id
        if "error" in params:
            raise OidcLoginRefused(OidcCheck.PROVIDER_ERROR, partner, str(params["error"])[:64])
        state = params.get("state", "")
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise OidcLoginRefused(OidcCheck.STATE_MISMATCH, partner, "state differs from the sealed one")
        if self.clock() - pending.started_at > self.login_ttl_s:
            raise OidcLoginRefused(OidcCheck.LOGIN_EXPIRED, partner, f"older than {self.login_ttl_s}s")
        if not self.replay.remember(partner, f"oidc-state:{state}", self.login_ttl_s):
            raise OidcLoginRefused(OidcCheck.STATE_REUSED, partner, "state already spent")
        code = params.get("code")
        if not code:
            raise OidcLoginRefused(OidcCheck.PROVIDER_ERROR, partner, "callback without code")
        provider = await self._provider(client)
        token = await self._redeem(client, provider, code, pending.code_verifier)
        raw = token.get("id_token")
        if not isinstance(raw, str):
            raise OidcLoginRefused(OidcCheck.MALFORMED_TOKEN, partner, "token response without id_token")
        claims = await self._validated(client, provider, raw, pending.nonce)
        userinfo = await self._userinfo(client, provider, str(token["access_token"]))
        if userinfo is not None and userinfo.get("sub") != claims["sub"]:
            raise OidcLoginRefused(OidcCheck.USERINFO_MISMATCH, partner, "userinfo sub differs")
        expires_at = token.get("expires_at")
        return OidcIdentity(
            partner_id=partner,
            issuer=client.issuer,
            subject=str(claims["sub"]),
            claims={**(userinfo or {}), **claims},
            refresh_token=token.get("refresh_token"),
            access_expires_at=float(expires_at) if isinstance(expires_at, int | float) else None,
        )

    async def logout_url(self, client: OidcClient, post_logout_redirect_uri: str | None) -> str | None:
        """Where to send the browser to end its session at the provider too (OpenID Connect RP-Initiated
        Logout 1.0 section 2: ``end_session_endpoint`` with ``client_id``), or None when the provider has
        none or cannot be reached (the local sign-out stands either way)."""
        try:
            provider = await self._provider(client)
        except OidcLoginRefused:
            return None
        endpoint = provider.metadata.get("end_session_endpoint")
        if not isinstance(endpoint, str) or not is_secure_transport(endpoint):
            return None
        params = {"client_id": client.client_id}
        if post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(params)}"

    # -- provider calls -----------------------------------------------------------------------------
    def _oauth(self, client: OidcClient) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=client.client_id,
            client_secret=client.client_secret,
            scope=" ".join(client.scopes),
            redirect_uri=client.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name, not a secret
            timeout=self.timeout_s,
            transport=self.transport,
        )

    def _http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(timeout=self.timeout_s, transport=self.transport, follow_redirects=False)

    async def _provider(self, client: OidcClient, refresh: bool = False) -> _Provider:
        cached = self._fresh(client.issuer, None if refresh else 0.0)
        if cached is not None:
            return cached
        started = self.clock()
        async with self._locks.setdefault(client.issuer, asyncio.Lock()):  # one fetch per issuer at a time
            cached = self._fresh(client.issuer, started if refresh else 0.0)  # fetched while we waited
            if cached is not None:
                return cached
            metadata = await self._get_json(client, client.issuer.rstrip("/") + "/.well-known/openid-configuration")
            self._check_metadata(client, metadata)
            try:
                keys = KeySet.import_key_set(await self._get_json(client, metadata["jwks_uri"]))  # type: ignore[arg-type]
            except (JoseError, KeyError, TypeError, ValueError) as error:
                raise OidcLoginRefused(OidcCheck.DISCOVERY_INVALID, client.partner_id, "invalid JWKS") from error
            provider = self._providers[client.issuer] = _Provider(metadata, keys, self.clock())
            return provider

    def _fresh(self, issuer: str, fetched_since: float | None) -> _Provider | None:
        """The cached provider if younger than ``metadata_ttl_s`` and fetched at or after ``fetched_since``."""
        cached = self._providers.get(issuer)
        if cached is None or fetched_since is None or cached.fetched_at < fetched_since:
            return None
        return cached if self.clock() - cached.fetched_at < self.metadata_ttl_s else None

    @staticmethod
    def _check_metadata(client: OidcClient, metadata: dict[str, Any]) -> None:
        missing = [name for name in _REQUIRED_METADATA if not isinstance(metadata.get(name), str)]
        if missing or metadata["issuer"] != client.issuer:
            evidence = f"missing {missing}" if missing else f"issuer {metadata['issuer']!r} is not {client.issuer!r}"
            raise OidcLoginRefused(OidcCheck.DISCOVERY_INVALID, client.partner_id, evidence)
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not is_secure_transport(metadata[name]):
                raise OidcLoginRefused(OidcCheck.DISCOVERY_INVALID, client.partner_id, f"{name} is not https")

    async def _get_json(self, client: OidcClient, url: str) -> dict[str, Any]:
        try:
            async with self._http() as http:
                response = await http.get(url, headers={"Accept": "application/json"})
        except httpx2.TransportError as error:
            raise OidcLoginRefused(OidcCheck.PROVIDER_UNREACHABLE, client.partner_id, type(error).__name__) from error
        if response.status_code != 200:
            raise OidcLoginRefused(OidcCheck.DISCOVERY_INVALID, client.partner_id, f"{url}: {response.status_code}")
        try:
            body = response.json()
        except ValueError as error:
            raise OidcLoginRefused(OidcCheck.DISCOVERY_INVALID, client.partner_id, f"{url}: not JSON") from error
        if not isinstance(body, dict):
            raise OidcLoginRefused(OidcCheck.DISCOVERY_INVALID, client.partner_id, f"{url}: not an object")
        return body

    async def _redeem(self, client: OidcClient, provider: _Provider, code: str, verifier: str) -> dict[str, Any]:
        try:
            async with self._oauth(client) as oauth:
                token = await oauth.fetch_token(
                    provider.metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=verifier,
                )
        except httpx2.TransportError as error:
            raise OidcLoginRefused(OidcCheck.PROVIDER_UNREACHABLE, client.partner_id, type(error).__name__) from error
        except OAuthError as error:
            raise OidcLoginRefused(OidcCheck.PROVIDER_ERROR, client.partner_id, str(error.error)[:64]) from error
        except httpx2.HTTPStatusError as error:
            status = error.response.status_code
            raise OidcLoginRefused(OidcCheck.PROVIDER_ERROR, client.partner_id, f"token endpoint {status}") from error
        if not isinstance(token.get("access_token"), str):
            raise OidcLoginRefused(OidcCheck.PROVIDER_ERROR, client.partner_id, "token response without access_token")
        return dict(token)

    async def _validated(self, client: OidcClient, provider: _Provider, raw: str, nonce: str) -> dict[str, Any]:
        def check(keys: KeySet) -> dict[str, Any]:
            return validate_id_token(
                raw,
                keys=keys,
                issuer=client.issuer,
                client_id=client.client_id,
                nonce=nonce,
                now=self.clock(),
                leeway=self.leeway_s,
            )

        try:
            try:
                return check(provider.keys)
            except IdTokenInvalid as first:
                if first.reason is not OidcCheck.UNKNOWN_SIGNING_KEY:
                    raise
                return check((await self._provider(client, refresh=True)).keys)
        except IdTokenInvalid as invalid:
            raise OidcLoginRefused(invalid.reason, client.partner_id, invalid.evidence) from invalid

    async def _userinfo(self, client: OidcClient, provider: _Provider, access_token: str) -> dict[str, Any] | None:
        endpoint = provider.metadata.get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return None
        try:
            async with self._http() as http:
                response = await http.get(endpoint, headers={"Authorization": f"Bearer {access_token}"})
        except httpx2.TransportError as error:
            raise OidcLoginRefused(OidcCheck.PROVIDER_UNREACHABLE, client.partner_id, type(error).__name__) from error
        if response.status_code != 200:
            raise OidcLoginRefused(OidcCheck.PROVIDER_ERROR, client.partner_id, f"userinfo {response.status_code}")
        body = response.json()
        if not isinstance(body, dict):
            raise OidcLoginRefused(OidcCheck.PROVIDER_ERROR, client.partner_id, "userinfo is not an object")
        return body
