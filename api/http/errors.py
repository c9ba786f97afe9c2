"""One error envelope for every failure (seed 000 section 7.1) and one status map for every code (7.2).

Every error response, whatever raised it (our handlers, the domain, Litestar's router for 404/405, the
body parser, the size limit, an unexpected exception), has the body::

    {"error": {"code": "CLAIM_NOT_FOUND", "message": "...", "details": {...},
               "requestId": "<the X-Request-ID>", "documentation": "<origin>/docs/errors#CLAIM_NOT_FOUND"}}

:data:`ERROR_CODES` is the single table of codes, statuses and meanings (docs/http.md prints it; the server
serves it at ``/docs/errors``, api/http/routes/docs.py). Field names are the route's wire names
(api/http/wire_names.py). An unexpected exception is logged with the request id and its traceback and
answered with 500 ``INTERNAL_ERROR`` whose body says nothing about the cause. The exception handler itself never raises:
a failure inside it would escape to the server (a Litestar trap), so it falls back to a fixed body.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import msgspec
from eventsourcing.persistence import OperationalError
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.handlers import BaseRouteHandler

from api.http.context import request_id_of
from api.http.sso_pages import login_failure_page
from api.http.wire_names import wire_problem
from api.security import AUTH_ERROR_CODES, AuthenticationError
from api.security.tokens import OAuthError
from ledger_core.accounts.errors import LoginRefused
from ledger_core.engine.errors import InvalidCommand, LedgerError, NotFound
from ledger_core.engine.merkle import NotSealed

logger = logging.getLogger("api.http.errors")

_CODES: dict[str, tuple[int, str]] = {
    "VALIDATION_ERROR": (400, "The request payload or a parameter is invalid; details name the field."),
    "MALFORMED_JSON": (400, "The body is not valid JSON."),
    "IDEMPOTENCY_KEY_INVALID": (400, "The Idempotency-Key header is empty or longer than 255 characters."),
    "REPEATED_HEADER": (400, "A security header (Authorization, X-API-Key, X-Request-ID, ...) is sent twice."),
    "AUTH_INVALID_TOKEN": (401, "Authorization Bearer token missing, invalid or expired."),
    "AUTH_INVALID_SIGNATURE": (401, "X-Signature missing or wrong, or a signed header malformed."),
    "AUTH_REQUEST_EXPIRED": (401, "X-Timestamp is more than 300 seconds away from the server clock."),
    "AUTH_REPLAYED_REQUEST": (401, "X-Request-ID was already used within the replay window."),
    "AUTH_KEY_MISMATCH": (401, "X-API-Key missing, unknown, expired, or not a key of the token's partner."),
    "AUTH_KEY_EXPIRED": (401, "X-API-Key reached the partner's maximum key age (details.expired_at); rotate it."),
    "AUTH_INVALID_CLIENT": (401, "OAuth client authentication failed (RFC 6749 invalid_client)."),
    "AUTH_INSUFFICIENT_SCOPE": (403, "The access token lacks the scope this operation needs."),
    "IP_NOT_ALLOWED": (403, "The client address is outside the partner's IP allowlist."),
    "UNSUPPORTED_GRANT_TYPE": (400, "Only grant_type=client_credentials is supported (RFC 6749 4.4)."),
    "INVALID_SCOPE": (400, "The requested scope is unknown or not granted to this client."),
    "NOT_FOUND": (404, "No such resource."),
    "CLAIM_NOT_FOUND": (404, "Claim ID doesn't exist (or belongs to another partner)."),
    "DOCUMENT_NOT_FOUND": (404, "No document with this hash is registered by the caller."),
    "ENTRY_NOT_FOUND": (404, "No log entry of the caller at this position."),
    "CHECKPOINT_NOT_FOUND": (404, "No checkpoint of this tree size has been signed."),
    "MEMBER_NOT_FOUND": (404, "No such policyholder in the partner's eligibility data (or erased)."),
    "MEMBER_NOT_ELIGIBLE": (404, "The policyholder is unknown or not eligible (details.rule names the rule)."),
    "ENROLLMENT_NOT_FOUND": (404, "The policyholder has not enrolled."),
    "SUBSCRIPTION_NOT_FOUND": (404, "The policyholder has no subscription."),
    "REMINDER_NOT_FOUND": (404, "No such reminder."),
    "WEBHOOK_ENDPOINT_NOT_FOUND": (404, "No webhook endpoint with this id for the caller."),
    "WEBHOOK_DELIVERY_NOT_FOUND": (404, "No delivery with this id for the caller's endpoint."),
    "REMINDER_NOT_APPLICABLE": (400, "The reminder makes no sense now (e.g. the policyholder already enrolled)."),
    "PARTNER_MISMATCH": (403, "The request names a partner other than the authenticated one."),
    "PERSONAL_DATA_ERASED": (410, "The policyholder's personal data was erased; nothing more can be recorded."),
    "CONSENT_REQUIRED": (422, "The member asked to enroll without giving consent to testing."),
    "NOT_ELIGIBLE": (422, "The policyholder fails an eligibility rule (details.rule: age_18_plus, state_allowed)."),
    "METHOD_NOT_ALLOWED": (405, "The resource does not support this HTTP method."),
    "DUPLICATE_CLAIM": (409, "partnerClaimId was already submitted with a different payload."),
    "DOCUMENT_CONFLICT": (409, "This hash is already registered with different attributes."),
    "IDEMPOTENCY_CONFLICT": (409, "The natural key already exists with a different payload."),
    "INVALID_STATE_TRANSITION": (409, "The operation is not allowed in the resource's current state."),
    "CONCURRENCY_CONFLICT": (409, "The resource changed concurrently; retry."),
    "IDEMPOTENCY_REQUEST_IN_PROGRESS": (409, "A request with this Idempotency-Key is still being processed."),
    "NOT_SEALED": (409, "The entry is not covered by a signed checkpoint yet; retry after Retry-After."),
    "API_VERSION_RETIRED": (410, "This API version is retired; details.migration links the replacement."),
    "PAYLOAD_TOO_LARGE": (413, "The request body exceeds the size limit."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "The Content-Type is not accepted here."),
    "IDEMPOTENCY_KEY_REUSED": (422, "This Idempotency-Key was used with a different request."),
    "RATE_LIMIT_EXCEEDED": (429, "Too many requests; retry after Retry-After seconds."),
    "QUOTA_EXCEEDED": (429, "The daily request quota is used up; retry after Retry-After seconds."),
    "INTERNAL_ERROR": (500, "Server error (retry safe)."),
    "SERVICE_UNAVAILABLE": (503, "A dependency (database, sealer, rate-limit store) is unavailable; retry."),
    "SSO_LOGIN_REFUSED": (403, "Sign-in refused; details.reason is the reason code (docs/sso.md); an HTML page."),
    "SSO_SESSION_INVALID": (401, "No live browser session: sign in again."),
    "SSO_REFRESH_REUSED": (401, "A used refresh token was presented again: every session of its family is revoked."),
    "SSO_CSRF_REFUSED": (403, "The X-CSRF-Token header is missing or does not match the session."),
    "IDENTITY_PROVIDER_NOT_FOUND": (404, "The partner has no identity provider with this id."),
    "USER_ACCOUNT_NOT_FOUND": (404, "No account for this partner user id."),
}
for _code, _status in AUTH_ERROR_CODES.items():
    _CODES.setdefault(_code, (_status, "The request could not be authenticated."))

ERROR_CODES: Mapping[str, tuple[int, str]] = _CODES
"""code -> (HTTP status, meaning): the one status map of the API."""

_NOT_FOUND_BY_KIND = {
    "claim": "CLAIM_NOT_FOUND",
    "document": "DOCUMENT_NOT_FOUND",
    "entry": "ENTRY_NOT_FOUND",
    "member": "MEMBER_NOT_FOUND",
    "enrollment": "ENROLLMENT_NOT_FOUND",
    "subscription": "SUBSCRIPTION_NOT_FOUND",
    "reminder": "REMINDER_NOT_FOUND",
    "webhook_endpoint": "WEBHOOK_ENDPOINT_NOT_FOUND",
    "webhook_delivery": "WEBHOOK_DELIVERY_NOT_FOUND",
    "identity_provider": "IDENTITY_PROVIDER_NOT_FOUND",
    "saml_provider": "IDENTITY_PROVIDER_NOT_FOUND",
    "oidc_provider": "IDENTITY_PROVIDER_NOT_FOUND",
    "user_account": "USER_ACCOUNT_NOT_FOUND",
}


def status_of(code: str) -> int:
    """The HTTP status of an error code (500 for a code not in the table)."""
    return ERROR_CODES.get(code, (500, ""))[0]


class ApiError(Exception):
    """An error the HTTP layer raises itself: a code from :data:`ERROR_CODES`, a message and details."""

    def __init__(self, code: str, message: str, *, headers: Mapping[str, str] | None = None, **details: Any) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})

    @property
    def status(self) -> int:
        return status_of(self.code)


def parameter_error(error: InvalidCommand) -> ApiError:
    """A validation error about a query parameter, named as the client spelled it (``start_date``, ``since``:
    not camelCased like body fields) and with the field as its only evidence."""
    return ApiError("VALIDATION_ERROR", error.message, field=error.details.get("field"))


@dataclass(frozen=True, slots=True)
class Problem:
    """What an exception becomes: code, message, details and extra response headers."""

    code: str
    message: str
    details: Mapping[str, Any]
    headers: Mapping[str, str]


def problem_of(exc: BaseException) -> Problem:
    """Translate any exception into a :class:`Problem` (unknown ones become ``INTERNAL_ERROR``)."""
    if isinstance(exc, ApiError):
        return Problem(exc.code, exc.message, exc.details, exc.headers)
    if isinstance(exc, NotFound):
        code = _NOT_FOUND_BY_KIND.get(exc.kind, "NOT_FOUND")
        return Problem(code, f"{exc.kind} not found", {"id": exc.identifier}, {})
    if isinstance(exc, NotSealed):
        return Problem("NOT_SEALED", exc.message, _jsonable(exc.details), {"Retry-After": "1"})
    if isinstance(exc, OAuthError):
        return _oauth_problem(exc)
    if isinstance(exc, AuthenticationError):
        details = {k: v for k, v in _jsonable(exc.details).items() if k != "reason"}  # reason: metrics only
        return Problem(exc.code, exc.message, details, {"WWW-Authenticate": 'Bearer realm="ledger"'})
    if isinstance(exc, LedgerError) and exc.code in ERROR_CODES:
        details = _jsonable(exc.details)  # field names: api.http.wire_names, against the failed route
        headers = {"Retry-After": "1"} if exc.code == "SERVICE_UNAVAILABLE" else {}
        return Problem(exc.code, exc.message, details, headers)
    if isinstance(exc, HTTPException):
        return _http_problem(exc)
    if isinstance(exc, OperationalError):
        return Problem("SERVICE_UNAVAILABLE", "the database is unavailable", {}, {"Retry-After": "1"})
    return Problem("INTERNAL_ERROR", "internal server error", {}, {})


_OAUTH_CODES = {
    "invalid_client": "AUTH_INVALID_CLIENT",
    "unsupported_grant_type": "UNSUPPORTED_GRANT_TYPE",
    "invalid_scope": "INVALID_SCOPE",
}


def as_api_error(exc: BaseException, headers: Mapping[str, str] | None = None) -> ApiError:
    """``exc`` as an :class:`ApiError` with extra response ``headers`` (e.g. rate-limit headers)."""
    problem = problem_of(exc)
    return ApiError(problem.code, problem.message, headers={**(headers or {}), **problem.headers}, **problem.details)


def _oauth_problem(exc: OAuthError) -> Problem:
    """RFC 6749 section 5.2 errors inside the envelope: ``details.error`` is the OAuth error code."""
    code = _OAUTH_CODES.get(exc.error, "VALIDATION_ERROR")
    headers = {"WWW-Authenticate": 'Basic realm="ledger"'} if code == "AUTH_INVALID_CLIENT" else {}
    return Problem(code, exc.description, {"error": exc.error, "error_description": exc.description}, headers)


_MISSING_PARAMETER = re.compile(r"Missing required (\w+) parameter '([^']{1,100})'")


def _http_problem(exc: HTTPException) -> Problem:
    """Litestar's own exceptions: router 404/405, body parsing, size limit."""
    if isinstance(exc, NotFoundException):
        return Problem("NOT_FOUND", "no such resource", {}, {})
    if isinstance(exc, MethodNotAllowedException):
        allow = (exc.headers or {}).get("allow") or (exc.headers or {}).get("Allow")
        return Problem("METHOD_NOT_ALLOWED", "method not allowed", {}, {"Allow": allow} if allow else {})
    if isinstance(exc, RequestEntityTooLarge) or exc.status_code == 413:
        return Problem("PAYLOAD_TOO_LARGE", "request body too large", {}, {})
    if isinstance(exc, ValidationException):
        fields = [
            {
                "field": str(item.get("key", "")),
                "message": str(item.get("message")),
                "source": _source(item.get("source")),
            }
            for item in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(item, dict)
        ]
        missing = _MISSING_PARAMETER.match(str(exc.detail))
        if not fields and missing is not None:  # Litestar names a missing parameter only in its message
            source, name = missing.groups()
            fields = [{"field": name, "message": f"the {source} parameter {name!r} is required", "source": source}]
            return Problem("VALIDATION_ERROR", f"missing required {source} parameter {name!r}", {"fields": fields}, {})
        return Problem("VALIDATION_ERROR", "request validation failed", {"fields": fields}, {})
    if isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException):
        return Problem("MALFORMED_JSON", "the request body is not valid JSON", {"reason": str(exc.detail)}, {})
    if exc.status_code == 415:
        return Problem("UNSUPPORTED_MEDIA_TYPE", "unsupported media type", {}, {})
    if exc.status_code == 503:
        return Problem("SERVICE_UNAVAILABLE", "service unavailable", {}, {"Retry-After": "1"})
    if 400 <= exc.status_code < 500:
        return Problem("VALIDATION_ERROR", str(exc.detail), {}, {})
    return Problem("INTERNAL_ERROR", "internal server error", {}, {})


def _source(source: Any) -> str:
    """Where a parameter was read (``body``, ``query``, ``path``, ``header``): Litestar gives a ``ParamType``."""
    if isinstance(source, Enum):
        return str(source.value)
    return "body" if source is None else str(source)


def _jsonable(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details made safe for JSON (anything odd becomes its string)."""
    try:
        return dict(msgspec.json.decode(msgspec.json.encode(dict(details), enc_hook=str)))
    except (TypeError, ValueError, msgspec.MsgspecError):
        return {key: str(value) for key, value in details.items()}


def documentation_url(base: str, code: str) -> str:
    """The code's entry in the error reference (``/docs/errors#CODE``, served by :mod:`api.http.routes.docs`)."""
    return f"{base}#{code}"


def error_body(code: str, message: str, details: Mapping[str, Any], request_id: str, docs_base: str) -> bytes:
    """The seed 7.1 envelope, encoded."""
    return msgspec.json.encode(
        {
            "error": {
                "code": code,
                "message": message,
                "details": dict(details),
                "requestId": request_id,
                "documentation": documentation_url(docs_base, code),
            }
        }
    )


_FALLBACK = (
    b'{"error":{"code":"INTERNAL_ERROR","message":"internal server error","details":{},'
    b'"requestId":"unknown","documentation":""}}'
)


def render_problem(
    exc: BaseException, request_id: str, docs_base: str, path: str = "", handler: BaseRouteHandler | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and envelope body for ``exc``; 5xx are logged with the request id (never in the body).

    Field names, sources and messages are put in the wire names of ``handler``'s route (api.http.wire_names)."""
    problem = problem_of(exc)
    message, details = wire_problem(problem.code, problem.message, problem.details, handler)
    problem = Problem(problem.code, message, details, problem.headers)
    status = status_of(problem.code)
    if status >= 500:
        unexpected = problem.code == "INTERNAL_ERROR"
        logger.error(
            "request failed: %s: %s",
            problem.code,
            type(exc).__name__,
            exc_info=exc if unexpected else None,
            extra={"request_id": request_id, "code": problem.code, "path": path},
        )
    body = error_body(problem.code, problem.message, problem.details, request_id, docs_base)
    return status, dict(problem.headers), body


def make_exception_handler(docs_base: str) -> Any:
    """The app-wide handler for every exception type (registered for ``Exception``).

    A relative ``docs_base`` (the default ``/docs/errors``) is made absolute with the request's own origin:
    the ``documentation`` links point to the error reference this server serves."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        try:
            if isinstance(exc, LoginRefused):  # a browser is waiting: a page, not an envelope
                reason, request_id = str(exc.details.get("reason")), request_id_of(request.scope)
                logger.info("sign-in refused: %s", reason, extra={"request_id": request_id, "reason": reason})
                page = login_failure_page(reason, request_id)
                return Response(page, status_code=status_of(exc.code), media_type="text/html; charset=utf-8")
            base = docs_base if "://" in docs_base else str(request.base_url).rstrip("/") + docs_base
            handler = request.scope.get("route_handler")
            status, headers, body = render_problem(exc, request_id_of(request.scope), base, request.url.path, handler)
            return Response(body, status_code=status, media_type="application/json", headers=headers)
        except Exception:  # never let the handler itself fail: that would escape to the server
            logger.exception("the exception handler failed")
            return Response(_FALLBACK, status_code=500, media_type="application/json")

    return handle
