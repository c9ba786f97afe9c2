"""A real OpenID Connect provider on loopback for tests: authlib's authorization server in Flask, served by werkzeug.

It speaks the protocol for real: discovery (OpenID Connect Discovery 1.0 section 4), a login form at the
authorization endpoint (authorization code grant, RFC 6749 section 4.1, with PKCE S256 required, RFC 7636),
a token endpoint (``client_secret_basic`` or ``client_secret_post``) issuing RS256 ``id_token``s signed
with its own RSA key (published in its JWKS), and a bearer-protected userinfo endpoint (OIDC Core 5.3).

Tests misbehave it on purpose through :attr:`OidcProvider.fault` (a :class:`Fault`): ``alg: none``, HMAC
signed with the client secret, a wrong issuer or audience, an expired token, a key not in the JWKS, a
nonce other than the one asked for, or a token endpoint that stalls (the IdP is down).
"""

from __future__ import annotations

import base64
import enum
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector, current_token
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, Response, jsonify, request
from joserfc.jwk import KeySet, OctKey, RSAKey
from werkzeug.serving import BaseWSGIServer, make_server

CLIENT_ID = "ledger-portal"
CLIENT_SECRET = "provider-test-client-secret-0123456789"


class Fault(enum.Enum):
    """How the provider misbehaves on its next token responses."""

    NONE = "none"
    ALG_NONE = "alg_none"
    ALG_HMAC = "alg_hmac"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    EXPIRED = "expired"
    UNKNOWN_KEY = "unknown_key"
    WRONG_NONCE = "wrong_nonce"
    STALL = "stall"


@dataclass(frozen=True)
class TestUser:
    """A user of the partner's directory: the provider's ``sub`` and the claims it releases."""

    __test__ = False

    sub: str
    password: str
    email: str
    given_name: str
    family_name: str
    partner_user_id: str
    role: str = "user"

    def claims(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "email": self.email,
            "email_verified": True,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "name": f"{self.given_name} {self.family_name}",
            "partner_user_id": self.partner_user_id,
            "role": self.role,
        }


def directory_users(count: int = 8) -> list[TestUser]:
    """``count`` (5-10, seed 001 section 7.1) distinct directory users."""
    roles = ("admin", "user", "read-only")
    return [
        TestUser(
            sub=f"okta|{1000 + i}",
            password=f"pw-{i}-{secrets.token_hex(4)}",
            email=f"staff{i}@partner.example",
            given_name=f"Given{i}",
            family_name=f"Family{i}",
            partner_user_id=f"EMP{i:04d}",
            role=roles[i % len(roles)],
        )
        for i in range(count)
    ]


@dataclass
class _Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "profile", "email", "offline_access"}
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user_sub: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass
class _Token:
    client_id: str
    user_sub: str
    scope: str
    access_token: str
    refresh_token: str | None
    issued_at: int
    expires_in: int

    def check_client(self, client: _Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return self.issued_at + self.expires_in < time.time()

    def is_revoked(self) -> bool:
        return False


@dataclass
class OidcProvider:
    """The running provider: its ``issuer`` URL, users, keys, the misbehaviour to apply, what it saw."""

    issuer: str = ""
    users: dict[str, TestUser] = field(default_factory=dict)
    redirect_uris: list[str] = field(default_factory=list)
    fault: Fault = Fault.NONE
    stall_seconds: float = 5.0
    signing_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "idp-1", "use": "sig"}))
    rogue_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "rogue", "use": "sig"}))
    token_requests: int = 0
    logouts: list[str] = field(default_factory=list)
    """``client_id`` of every RP-initiated logout received."""
    userinfo_requests: int = 0
    codes: dict[str, _Code] = field(default_factory=dict)
    tokens: dict[str, _Token] = field(default_factory=dict)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_username(self, username: str) -> TestUser | None:
        return next((u for u in self.users.values() if u.email == username), None)

    def update_user(self, sub: str, **changes: Any) -> TestUser:
        """Change a directory user's attributes (what the partner's IT team does in its IdP)."""
        self.users[sub] = replace(self.users[sub], **changes)
        return self.users[sub]

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.signing_key]).as_dict(private=False))

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "end_session_endpoint": f"{self.issuer}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        }


def _grants(provider: OidcProvider) -> tuple[type[grants.AuthorizationCodeGrant], OpenIDCode]:
    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012 - authlib's API

        def save_authorization_code(self, code: str, request: Any) -> None:
            payload = request.payload
            provider.codes[code] = _Code(
                code=code,
                client_id=payload.client_id,
                redirect_uri=payload.redirect_uri,
                scope=payload.scope,
                user_sub=request.user.sub,
                nonce=payload.data.get("nonce"),
                code_challenge=payload.data.get("code_challenge"),
                code_challenge_method=payload.data.get("code_challenge_method"),
                auth_time=int(time.time()),
            )

        def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
            found = provider.codes.get(code)
            return found if found is not None and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: _Code) -> None:
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: _Code) -> TestUser | None:
            return provider.users.get(authorization_code.user_sub)

    class IdToken(OpenIDCode):
        def exists_nonce(self, nonce: str, request: Any) -> bool:
            return any(c.nonce == nonce for c in provider.codes.values())

        def get_client_algorithm(self, client: _Client) -> str:
            return "HS256" if provider.fault is Fault.ALG_HMAC else "RS256"

        def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
            signed = str(super().encode_id_token(token, request))
            if provider.fault is not Fault.ALG_NONE:
                return signed
            # An unsecured JWT (RFC 7519 section 6): the same claims, header alg "none", empty signature.
            header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
            return f"{header}.{signed.split('.')[1]}."

        def get_encode_header(self, client: _Client) -> dict[str, Any]:
            alg = self.get_client_algorithm(client)
            if provider.fault is Fault.UNKNOWN_KEY:
                return {"alg": alg, "kid": "rogue"}
            return {"alg": alg} if alg != "RS256" else {"alg": alg, "kid": provider.signing_key.kid}

        def resolve_client_private_key(self, client: _Client) -> Any:
            if provider.fault is Fault.ALG_HMAC:
                return OctKey.import_key(client.client_secret.encode())
            return provider.rogue_key if provider.fault is Fault.UNKNOWN_KEY else provider.signing_key

        def get_client_claims(self, client: _Client) -> dict[str, Any]:
            now = int(time.time())
            claims: dict[str, Any] = {
                "iss": "https://evil.example" if provider.fault is Fault.WRONG_ISSUER else provider.issuer,
                "aud": ["someone-else"] if provider.fault is Fault.WRONG_AUDIENCE else [client.client_id],
                "iat": now,
                "exp": now + 300,
            }
            if provider.fault is Fault.EXPIRED:
                claims.update(iat=now - 7200, exp=now - 3600)
            return claims

        def get_authorization_code_claims(self, authorization_code: Any) -> dict[str, Any]:
            claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
            if provider.fault is Fault.WRONG_NONCE:
                claims["nonce"] = "not-the-nonce-you-sent"
            return claims

        def generate_user_info(self, user: TestUser, scope: str) -> dict[str, Any]:
            return user.claims()

    return CodeGrant, IdToken(require_nonce=True)


def _app(provider: OidcProvider) -> Flask:
    app = Flask("oidc-test-provider")
    client = _Client(CLIENT_ID, CLIENT_SECRET, provider.redirect_uris)

    def save_token(token: dict[str, Any], req: Any) -> None:
        provider.tokens[token["access_token"]] = _Token(
            client_id=req.client.client_id,
            user_sub=req.user.sub,
            scope=token.get("scope", ""),
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            issued_at=int(time.time()),
            expires_in=int(token.get("expires_in", 3600)),
        )

    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
    server = AuthorizationServer(
        app, query_client=lambda cid: client if cid == CLIENT_ID else None, save_token=save_token
    )
    code_grant, id_token = _grants(provider)
    server.register_grant(code_grant, [CodeChallenge(required=True), id_token])

    class Validator(BearerTokenValidator):
        def authenticate_token(self, token_string: str) -> _Token | None:
            return provider.tokens.get(token_string)

    protect = ResourceProtector()
    protect.register_token_validator(Validator())

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return jsonify(provider.discovery())

    @app.get("/jwks")
    def jwks() -> Response:
        return jsonify(provider.jwks())

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        if request.method == "GET":
            server.get_consent_grant(end_user=None)  # validates client, redirect URI, PKCE, nonce first
            query = urllib.parse.quote(request.query_string.decode(), safe="")
            return (
                "<!doctype html><title>Partner sign-in</title><form method=post action='/authorize?"
                + request.query_string.decode()
                + "'><input name=username><input name=password type=password>"
                + f"<input type=hidden name=q value='{query}'>"
                + "<button>Sign in</button></form>"
            )
        user = provider.by_username(request.form.get("username", ""))
        if user is None or not secrets.compare_digest(user.password, request.form.get("password", "")):
            return Response("<!doctype html><title>Sign-in failed</title><p>Wrong username or password.</p>", 401)
        grant = server.get_consent_grant(end_user=user)
        return server.create_authorization_response(grant=grant, grant_user=user)

    @app.post("/token")
    def token() -> Any:
        with provider.lock:
            provider.token_requests += 1
        if provider.fault is Fault.STALL:
            provider.released.wait(provider.stall_seconds)
        return server.create_token_response()

    @app.get("/logout")
    def end_session() -> Response:
        provider.logouts.append(request.args.get("client_id", ""))
        return Response("<!doctype html><title>Signed out</title><p>You are signed out.</p>", 200)

    @app.get("/userinfo")
    @protect("openid")
    def userinfo() -> Response:
        with provider.lock:
            provider.userinfo_requests += 1
        sub = current_token.user_sub
        user = provider.users.get(sub)
        if user is None:
            return Response('{"error":"invalid_token"}', 401, mimetype="application/json")
        return jsonify(user.claims())

    return app


@contextmanager
def running_provider(users: list[TestUser], redirect_uris: list[str]) -> Iterator[OidcProvider]:
    """Serve a provider on 127.0.0.1 (port 0) in a thread for the duration of the ``with`` block."""
    provider = OidcProvider(users={u.sub: u for u in users}, redirect_uris=list(redirect_uris))
    http: BaseWSGIServer = make_server("127.0.0.1", 0, _app(provider), threaded=True)
    provider.issuer = f"http://127.0.0.1:{http.server_port}"
    thread = threading.Thread(target=http.serve_forever, name="oidc-provider", daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        provider.released.set()
        http.shutdown()
        http.server_close()
        thread.join(timeout=10)


def unresponsive_issuer() -> tuple[str, Any]:
    """An issuer URL whose socket accepts connections and never answers (an IdP that is down), and its socket."""
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return f"http://127.0.0.1:{listener.getsockname()[1]}", listener


__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "Fault",
    "OidcProvider",
    "TestUser",
    "directory_users",
    "running_provider",
    "unresponsive_issuer",
]
