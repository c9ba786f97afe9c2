"""Prometheus metrics, JSON logs carrying the request id, and the edge that ties them together.

:class:`Edge` sees every HTTP request, routed or not (404/405 responses too), through Litestar's own
hooks. It assigns the request id (the client's ``X-Request-ID`` when it is a UUID, else a new one),
echoes it in ``X-Request-ID``, adds the version lifecycle headers, answers 410 for a retired version,
and records the request count and latency by route template and status, plus one access-log line.

Metrics (one registry per app; with ``PROMETHEUS_MULTIPROC_DIR`` set, ``ledger serve --workers N``
aggregates every worker through prometheus-client's multiprocess collector):

* ``ledger_http_requests_total{method,route,status}`` and ``ledger_http_request_duration_seconds{method,route}``
* ``ledger_rate_limit_rejections_total{tier,policy}``
* ``ledger_auth_failures_total{code,reason}``
* ``ledger_seal_lag_entries`` (entries waiting for a checkpoint), ``ledger_sealed_size``,
  ``ledger_seal_wait_seconds`` (how long claim submissions waited for their proof)
* ``ledger_sso_logins_total{protocol,outcome,reason}`` (single sign-on attempts; ``reason`` is ``ok`` or the
  refusal code, seed 001 section 7.3: success rate above 99%),
  ``ledger_sso_certificate_expiry_seconds{partner,provider,certificate}`` (seconds left, negative once
  expired) and ``ledger_sso_certificate_state{...}`` (0 ok, 1 within 30 days of expiry, 2 expired)
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from api.http.context import STARTED, assign_request_id, partner_of, request_id_of
from api.http.errors import ApiError
from api.http.versioning import lifecycle_headers, policy_for, retired_details, successor_link, version_of
from api.settings import Settings

ExceptionHandler = Callable[[Request[Any, Any, Any], Exception], Response[Any]]
STATUS = "ledger.status"
ROUTE = "ledger.route"
UNMATCHED = "unmatched"

access_log = logging.getLogger("api.access")
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The server's Prometheus metrics, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "ledger_http_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "ledger_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(
            "ledger_rate_limit_rejections", "Requests refused by the rate limiter", ["tier", "policy"], registry=r
        )
        self.auth_failures = Counter(
            "ledger_auth_failures", "Requests refused by authentication", ["code", "reason"], registry=r
        )
        self.seal_lag = Gauge(
            "ledger_seal_lag_entries",
            "Log entries not yet covered by a checkpoint",
            registry=r,
            multiprocess_mode="max",
        )
        self.sealed_size = Gauge(
            "ledger_sealed_size", "Tree size of the latest checkpoint", registry=r, multiprocess_mode="max"
        )
        self.seal_wait = Histogram(
            "ledger_seal_wait_seconds",
            "Time claim submissions waited for their seal",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

        self.sso_logins = Counter(
            "ledger_sso_logins",
            "Single sign-on attempts by protocol, outcome and reason",
            ["protocol", "outcome", "reason"],
            registry=r,
        )
        self.sso_certificate_expiry = Gauge(
            "ledger_sso_certificate_expiry_seconds",
            "Seconds until an SSO certificate expires (negative: expired)",
            ["partner", "provider", "certificate"],
            registry=r,
            multiprocess_mode="min",
        )
        self.sso_certificate_state = Gauge(
            "ledger_sso_certificate_state",
            "SSO certificate state: 0 ok, 1 expires within 30 days, 2 expired",
            ["partner", "provider", "certificate"],
            registry=r,
            multiprocess_mode="max",
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text (every worker's, in multiprocess mode) and its content type."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


# -- logs --------------------------------------------------------------------------------------------
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_JSON = json.JSONEncoder(default=str, ensure_ascii=False)
"""``json.dumps(line, default=str, ensure_ascii=False)`` without building an encoder per line."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's extras (request_id, ...)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_") and key != "color_message"
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _JSON.encode(line)


class _LedgerHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so configuring twice does not duplicate lines."""


QUIET_LIBRARIES = ("saml2",)
"""Libraries whose INFO lines carry personal data: pysaml2 logs a parsed SAML response, NameID (an email)
included. They log warnings and errors only, whatever the level."""


def configure_logging(settings: Settings) -> None:
    """Log to stderr, JSON lines when ``settings.http.json_logs`` (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _LedgerHandler):
            root.removeHandler(handler)
    handler = _LedgerHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.http.json_logs else logging.Formatter(logging.BASIC_FORMAT))
    root.addHandler(handler)
    root.setLevel(settings.http.log_level.upper())
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


# -- the edge ----------------------------------------------------------------------------------------
class Edge:
    """Request id, version lifecycle, metrics and access log around every HTTP request.

    Three Litestar hooks, because Litestar runs middleware only for requests it has routed: the app-level
    :meth:`middleware` starts every routed request (its request id, its start time, 410 for a retired
    version before any authentication); :meth:`before_send` sees every response, routed or not (404,
    405 and the pipeline's refusals included), adds ``X-Request-ID`` and the lifecycle headers and, at
    its last message, records the metrics and the access-log line; :meth:`exception_handler` answers
    410 for a path of a retired version that matches no route. A request Litestar did not route has its
    id assigned, and its clock started, when its error response is made.
    """

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics

    def middleware(self) -> EdgeMiddleware:
        return EdgeMiddleware(self)

    def retired(self, path: str) -> ApiError | None:
        """The 410 for a path of a retired version; None for any other path."""
        policy = policy_for(path, self.settings.http.versions)
        if policy is None or not policy.retired:
            return None
        version = version_of(path) or ""
        return ApiError(
            "API_VERSION_RETIRED",
            f"API version {version} is retired",
            headers=dict(successor_link(policy)),
            **retired_details(version, policy),
        )

    async def before_send(self, message: Message, scope: Scope) -> None:
        """Headers on the response's start; metrics and the access log on its last message."""
        if scope["type"] != ScopeType.HTTP:
            return
        state = scope.setdefault("state", {})
        if message["type"] == "http.response.start":
            state.setdefault(STARTED, time.perf_counter())
            state[STATUS] = int(message["status"])
            policy = policy_for(str(scope.get("path", "")), self.settings.http.versions)
            extra = [("X-Request-ID", request_id_of(scope)), *(lifecycle_headers(policy) if policy else [])]
            encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra]
            message["headers"] = [*message.get("headers", ()), *encoded]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self._observe(scope, state)

    def _observe(self, scope: Scope, state: MutableMapping[str, Any]) -> None:
        elapsed = time.perf_counter() - float(state.get(STARTED, time.perf_counter()))
        path, method, status = str(scope.get("path", "")), str(scope.get("method", "")), int(state.get(STATUS, 500))
        route = str(state.get(ROUTE) or scope.get("path_template") or UNMATCHED)
        self.metrics.observe_request(method, route, status, elapsed)
        access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "request_id": request_id_of(scope),
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 3),
                "partner_id": partner_of(scope),
            },
        )

    def exception_handler(self, handler: ExceptionHandler) -> ExceptionHandler:
        """``handler``, answering 410 instead for any failure on a path of a retired version."""

        def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
            retired = self.retired(str(request.scope.get("path", "")))
            return handler(request, exc if retired is None else retired)

        return handle


class EdgeMiddleware(ASGIMiddleware):
    """App-level middleware of :class:`Edge`: the start of every routed HTTP request."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, edge: Edge) -> None:
        self._edge = edge

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        state = scope.setdefault("state", {})
        state[STARTED] = time.perf_counter()
        assign_request_id(scope)
        retired = self._edge.retired(str(scope.get("path", "")))
        if retired is not None:
            state[ROUTE] = UNMATCHED  # answered before routing mattered, as for a path no route matches
            raise retired
        await next_app(scope, receive, send)
