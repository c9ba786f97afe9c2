"""Prometheus metrics, JSON logs carrying the request id, and the edge middleware that ties them together.

:class:`EdgeMiddleware` wraps the whole Litestar app (outside routing, so 404/405 responses pass through
it too). For every HTTP request it assigns the request id (the client's ``X-Request-ID`` when it is a
UUID, else a new one), echoes it in ``X-Request-ID``, adds the version lifecycle headers, answers 410
for a retired version, and records the request count and latency by route template and status, plus
one access-log line.

Metrics (one registry per app; with ``PROMETHEUS_MULTIPROC_DIR`` set, ``ledger serve --workers N``
aggregates every worker through prometheus-client's multiprocess collector):

* ``ledger_http_requests_total{method,route,status}`` and ``ledger_http_request_duration_seconds{method,route}``
* ``ledger_rate_limit_rejections_total{tier,policy}``
* ``ledger_auth_failures_total{code,reason}``
* ``ledger_seal_lag_entries`` (entries waiting for a checkpoint), ``ledger_sealed_size``,
  ``ledger_seal_wait_seconds`` (how long claim submissions waited for their proof)
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from api.http.context import assign_request_id, partner_of
from api.http.errors import error_body
from api.http.versioning import lifecycle_headers, policy_for, retired_details, successor_link, version_of
from api.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

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


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's extras (request_id, ...)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key != "color_message":
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class _LedgerHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so configuring twice does not duplicate lines."""


def configure_logging(settings: Settings) -> None:
    """Log to stderr, JSON lines when ``settings.json_logs`` (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _LedgerHandler):
            root.removeHandler(handler)
    handler = _LedgerHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.json_logs else logging.Formatter(logging.BASIC_FORMAT))
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())


# -- the edge ----------------------------------------------------------------------------------------
class EdgeMiddleware:
    """Request id, version lifecycle, metrics and access log around every HTTP request."""

    def __init__(self, app: ASGIApp, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = assign_request_id(scope)
        path, method = str(scope.get("path", "")), str(scope.get("method", ""))
        policy = policy_for(path, self.settings.versions)
        extra = [("X-Request-ID", request_id), *(lifecycle_headers(policy) if policy else [])]
        encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra]
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {**message, "headers": [*message.get("headers", []), *encoded]}
            await send(message)

        try:
            if policy is not None and policy.retired:
                await self._retired(path, request_id, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = str(scope.get("path_template") or "unmatched")
            self.metrics.observe_request(method, route, status, elapsed)
            access_log.info(
                "%s %s %s",
                method,
                path,
                status,
                extra={
                    "request_id": request_id,
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "partner_id": partner_of(scope),
                },
            )

    async def _retired(self, path: str, request_id: str, send: Send) -> None:
        version = version_of(path) or ""
        policy = self.settings.versions[version]
        body = error_body(
            "API_VERSION_RETIRED",
            f"API version {version} is retired",
            retired_details(version, policy),
            request_id,
            self.settings.docs_url,
        )
        headers = [("content-type", "application/json"), ("content-length", str(len(body))), *successor_link(policy)]
        await send(
            {
                "type": "http.response.start",
                "status": 410,
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": body})
