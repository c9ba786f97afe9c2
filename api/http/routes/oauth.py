"""``POST /oauth/token`` (RFC 6749 section 4.4 client credentials) and ``GET /.well-known/jwks.json``.

The body is a form (``application/x-www-form-urlencoded``) or JSON; the client authenticates with HTTP
Basic or ``client_id``/``client_secret`` in the body (not both). The answer is an RFC 9068 access token
(``typ`` ``at+jwt``, EdDSA, one hour) whose public keys are at ``/.well-known/jwks.json``. Token
requests are rate-limited per client address (the ``anonymous`` policy; the address is the one
:mod:`api.http.proxies` resolves, so ``X-Forwarded-For`` counts only from a configured proxy).

Nobody is authenticated before this body is read, so it is small: at most
``settings.http.max_token_body_bytes`` (4 KiB; 413 ``PAYLOAD_TOO_LARGE`` with ``details.limit``), a
JSON body passes :func:`api.http.strict_json.check_json` (depth, duplicate names) before it is parsed,
and two ``Authorization`` headers are refused (400 ``REPEATED_HEADER``).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from api.client.schemas import common as schemas
from api.http.context import client_address, repeated_header
from api.http.errors import ApiError, as_api_error
from api.http.pipeline.body import read_capped
from api.http.strict_json import check_json, is_json_media_type
from api.http.threads import run_blocking
from api.runtime import Runtime
from api.security.tokens import OAuthError, grant_scopes, parse_token_request
from api.settings import ANONYMOUS_TIER

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthController(Controller):
    path = "/oauth"
    tags = ("oauth",)

    @post("/token", summary="Get an access token (client credentials)", status_code=200)
    async def token(
        self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
    ) -> Response[schemas.TokenResponse]:
        if repeated_header(request.scope, (b"authorization",)) is not None:
            raise ApiError("REPEATED_HEADER", "the authorization header is sent more than once", header="authorization")
        body = await read_capped(request, runtime.settings.http.max_token_body_bytes)
        content_type = request.headers.get("content-type")
        if is_json_media_type(content_type):
            check_json(body)
        security = runtime.security
        client = client_address(request.scope)

        def issue() -> tuple[schemas.TokenResponse, dict[str, str]]:
            limits = security.limits.limit(f"ip:{client}", ANONYMOUS_TIER)  # LimitExceeded: 429 with its headers
            try:
                parsed = parse_token_request(content_type, body, request.headers.get("authorization"))
                partner = security.directory.authenticate_client(parsed.client_id, parsed.client_secret)
                if partner is None or partner.partner_id is None:
                    runtime.metrics.auth_failures.labels("AUTH_INVALID_CLIENT", "bad_credentials").inc()
                    raise OAuthError("invalid_client", "client authentication failed", 401)
                if not partner.allows_address(client):  # its IP allowlist (docs/authentication.md)
                    raise ApiError("IP_NOT_ALLOWED", "this client is not accepted from this address", address=client)
                scopes = grant_scopes(parsed.scopes, partner.scopes)
                issued = runtime.issuer.issue(
                    partner_id=partner.partner_id, client_id=partner.client_id, scopes=scopes, now=runtime.clock()
                )
            except (OAuthError, ApiError) as error:
                raise as_api_error(error, limits) from None
            return schemas.TokenResponse(**issued.response()), limits

        answer, limits = await run_blocking(issue)
        return Response(answer, headers={**NO_STORE, **limits})


class WellKnownController(Controller):
    path = "/.well-known"
    tags = ("oauth",)

    @get("/jwks.json", summary="Public keys of access tokens (JWKS)", cache_control=None)
    async def jwks(self, runtime: NamedDependency[Runtime]) -> Response[dict[str, list[dict[str, str]]]]:
        return Response(runtime.issuer.jwks(), headers={"Cache-Control": "public, max-age=300"})
