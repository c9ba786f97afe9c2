"""The OIDC relying party against a real provider on loopback (authlib's server in Flask), through HTTP."""

from __future__ import annotations

import asyncio
import socket
import urllib.parse
from collections.abc import Iterator

import httpx
import pytest
from joserfc.jwk import RSAKey
from support.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    Fault,
    OidcProvider,
    TestUser,
    directory_users,
    running_provider,
    unresponsive_issuer,
)

from adapters.memory.replay import InProcessReplayCache
from adapters.oidc.errors import OidcCheck, OidcLoginRefused
from adapters.oidc.pending import PendingLogin
from adapters.oidc.relying_party import OidcClient, OidcIdentity, RelyingParty

REDIRECT = "http://127.0.0.1/sso/oidc/acme/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with running_provider(directory_users(8), [REDIRECT]) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_fault(provider: OidcProvider) -> Iterator[None]:
    provider.fault = Fault.NONE
    yield
    provider.fault = Fault.NONE


def client_for(issuer: str) -> OidcClient:
    return OidcClient("acme", issuer, CLIENT_ID, CLIENT_SECRET, REDIRECT)


def sign_in(authorization_url: str, user: TestUser, password: str | None = None) -> dict[str, str]:
    """What a browser does at the provider: post the login form, follow nothing, read the callback query."""
    response = httpx.post(
        authorization_url, data={"username": user.email, "password": password or user.password}, timeout=10
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def login(rp: RelyingParty, client: OidcClient, user: TestUser) -> OidcIdentity:
    async def flow() -> OidcIdentity:
        url, pending = await rp.begin(client)
        params = await asyncio.to_thread(sign_in, url, user)
        return await rp.complete(client, pending, params)

    return asyncio.run(flow())


def refused(rp: RelyingParty, client: OidcClient, user: TestUser) -> OidcCheck:
    with pytest.raises(OidcLoginRefused) as caught:
        login(rp, client, user)
    return caught.value.check


def first(provider: OidcProvider) -> TestUser:
    return next(iter(provider.users.values()))


def test_every_test_user_logs_in_with_pkce_nonce_and_userinfo(provider: OidcProvider) -> None:
    """Each of the 8 directory users completes the code flow; claims come from the id_token and userinfo."""
    rp = RelyingParty(InProcessReplayCache())
    client = client_for(provider.issuer)
    for user in provider.users.values():
        identity = login(rp, client, user)
        assert identity.subject == user.sub
        assert identity.claims["email"] == user.email
        assert identity.claims["partner_user_id"] == user.partner_user_id
        assert identity.refresh_token
    assert provider.userinfo_requests >= len(provider.users)


def test_authorization_request_carries_s256_challenge_state_and_nonce(provider: OidcProvider) -> None:
    """The authorization URL asks for the code flow with PKCE S256, a state and a nonce, and scope openid."""
    url, pending = asyncio.run(RelyingParty(InProcessReplayCache()).begin(client_for(provider.issuer)))
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert query["state"] == pending.state
    assert query["nonce"] == pending.nonce
    assert "openid" in query["scope"].split()
    assert pending.code_verifier not in url


def test_tampered_state_is_refused(provider: OidcProvider) -> None:
    """A callback whose state is not the one sealed for this browser is refused before the code is redeemed."""
    rp = RelyingParty(InProcessReplayCache())
    client = client_for(provider.issuer)

    async def flow() -> None:
        url, pending = await rp.begin(client)
        params = await asyncio.to_thread(sign_in, url, first(provider))
        params["state"] = params["state"][:-2] + "xy"
        before = provider.token_requests
        with pytest.raises(OidcLoginRefused) as caught:
            await rp.complete(client, pending, params)
        assert caught.value.check is OidcCheck.STATE_MISMATCH
        assert provider.token_requests == before

    asyncio.run(flow())


def test_state_is_single_use(provider: OidcProvider) -> None:
    """The same callback presented twice (same cookie) is refused the second time."""
    rp = RelyingParty(InProcessReplayCache())
    client = client_for(provider.issuer)

    async def flow() -> None:
        url, pending = await rp.begin(client)
        params = await asyncio.to_thread(sign_in, url, first(provider))
        await rp.complete(client, pending, params)
        with pytest.raises(OidcLoginRefused) as caught:
            await rp.complete(client, pending, params)
        assert caught.value.check is OidcCheck.STATE_REUSED

    asyncio.run(flow())


def test_a_login_from_another_browser_is_refused(provider: OidcProvider) -> None:
    """The callback checked against another browser's pending login (its own state) is refused."""
    rp = RelyingParty(InProcessReplayCache())
    client = client_for(provider.issuer)

    async def flow() -> None:
        url, _ = await rp.begin(client)
        params = await asyncio.to_thread(sign_in, url, first(provider))
        other = PendingLogin.start("acme", rp.clock())
        with pytest.raises(OidcLoginRefused) as caught:
            await rp.complete(client, other, params)
        assert caught.value.check is OidcCheck.STATE_MISMATCH

    asyncio.run(flow())


def test_a_stale_login_is_refused(provider: OidcProvider) -> None:
    """A callback more than the login TTL after the start is refused."""
    now = [1_900_000_000.0]
    rp = RelyingParty(InProcessReplayCache(), login_ttl_s=600, clock=lambda: now[0])
    client = client_for(provider.issuer)

    async def flow() -> None:
        url, pending = await rp.begin(client)
        params = await asyncio.to_thread(sign_in, url, first(provider))
        now[0] += 601
        with pytest.raises(OidcLoginRefused) as caught:
            await rp.complete(client, pending, params)
        assert caught.value.check is OidcCheck.LOGIN_EXPIRED

    asyncio.run(flow())


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault.ALG_NONE, OidcCheck.ALGORITHM_REFUSED),
        (Fault.ALG_HMAC, OidcCheck.ALGORITHM_REFUSED),
        (Fault.WRONG_ISSUER, OidcCheck.WRONG_ISSUER),
        (Fault.WRONG_AUDIENCE, OidcCheck.WRONG_AUDIENCE),
        (Fault.EXPIRED, OidcCheck.TOKEN_EXPIRED),
        (Fault.UNKNOWN_KEY, OidcCheck.UNKNOWN_SIGNING_KEY),
        (Fault.WRONG_NONCE, OidcCheck.NONCE_MISMATCH),
    ],
)
def test_a_misbehaving_provider_is_refused(provider: OidcProvider, fault: Fault, reason: OidcCheck) -> None:
    """Each bad id_token the provider issues is refused with the reason of the check it fails."""
    provider.fault = fault
    assert refused(RelyingParty(InProcessReplayCache()), client_for(provider.issuer), first(provider)) is reason


def test_a_stalled_token_endpoint_times_out(provider: OidcProvider) -> None:
    """A provider that stops answering at the token endpoint is refused as unreachable after the timeout."""
    rp = RelyingParty(InProcessReplayCache(), timeout_s=0.5)
    client = client_for(provider.issuer)

    async def flow() -> None:
        url, pending = await rp.begin(client)
        params = await asyncio.to_thread(sign_in, url, first(provider))
        provider.fault = Fault.STALL
        with pytest.raises(OidcLoginRefused) as caught:
            await rp.complete(client, pending, params)
        assert caught.value.check is OidcCheck.PROVIDER_UNREACHABLE

    asyncio.run(flow())


def test_a_provider_that_never_answers_discovery_is_unreachable() -> None:
    """Discovery against a socket that accepts and never answers fails with a timeout, not a hang."""
    issuer, listener = unresponsive_issuer()
    with listener:
        rp = RelyingParty(InProcessReplayCache(), timeout_s=0.3)
        with pytest.raises(OidcLoginRefused) as caught:
            asyncio.run(rp.begin(client_for(issuer)))
    assert caught.value.check is OidcCheck.PROVIDER_UNREACHABLE


def test_a_provider_that_is_down_is_unreachable() -> None:
    """Discovery against a closed port is refused as unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OidcLoginRefused) as caught:
        asyncio.run(RelyingParty(InProcessReplayCache(), timeout_s=0.5).begin(client_for(f"http://127.0.0.1:{port}")))
    assert caught.value.check is OidcCheck.PROVIDER_UNREACHABLE


def test_discovery_for_another_issuer_is_refused(provider: OidcProvider) -> None:
    """A discovery document whose issuer is not the configured one is refused (OIDC Discovery 4.3)."""
    client = client_for(provider.issuer + "/")
    with pytest.raises(OidcLoginRefused) as caught:
        asyncio.run(RelyingParty(InProcessReplayCache()).begin(client))
    assert caught.value.check is OidcCheck.DISCOVERY_INVALID


def test_wrong_password_at_the_provider_issues_no_code(provider: OidcProvider) -> None:
    """The provider refuses bad credentials itself; we never see a password and never get a code."""
    url, _ = asyncio.run(RelyingParty(InProcessReplayCache()).begin(client_for(provider.issuer)))
    response = httpx.post(url, data={"username": first(provider).email, "password": "wrong"}, timeout=10)
    assert response.status_code == 401
    assert "location" not in response.headers


def test_the_client_secret_never_appears_in_its_repr(provider: OidcProvider) -> None:
    """The client configuration's repr (what a log line would show) omits the secret."""
    assert CLIENT_SECRET not in repr(client_for(provider.issuer))


def test_a_rotated_signing_key_is_fetched_once(provider: OidcProvider) -> None:
    """After the provider rotates its key (new ``kid``), the cached JWKS is refetched and sign-in succeeds."""
    rp = RelyingParty(InProcessReplayCache())
    client = client_for(provider.issuer)
    login(rp, client, first(provider))
    previous = provider.signing_key
    provider.signing_key = RSAKey.generate_key(2048, {"kid": "idp-2", "use": "sig"})
    try:
        assert login(rp, client, first(provider)).subject == first(provider).sub
    finally:
        provider.signing_key = previous


def test_an_error_from_the_provider_is_refused(provider: OidcProvider) -> None:
    """The provider redirects back with ``error=access_denied`` (user not assigned): refused, no token request."""
    rp = RelyingParty(InProcessReplayCache())
    client = client_for(provider.issuer)

    async def flow() -> None:
        _, pending = await rp.begin(client)
        before = provider.token_requests
        with pytest.raises(OidcLoginRefused) as caught:
            await rp.complete(client, pending, {"error": "access_denied", "state": pending.state})
        assert caught.value.check is OidcCheck.PROVIDER_ERROR
        assert caught.value.reason.value == "idp_status"
        assert provider.token_requests == before

    asyncio.run(flow())


def test_the_logout_url_is_the_providers_end_session_endpoint(provider: OidcProvider) -> None:
    """RP-initiated logout: the provider's ``end_session_endpoint`` with our client id and return address."""
    url = asyncio.run(RelyingParty(InProcessReplayCache()).logout_url(client_for(provider.issuer), "https://x.test/"))
    assert url is not None
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert url.startswith(f"{provider.issuer}/logout?")
    assert query == {"client_id": CLIENT_ID, "post_logout_redirect_uri": "https://x.test/"}
