"""The request pipeline through HTTP (in process): authentication, limits, scopes, idempotency, the body."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from adapters.idempotency import New
from adapters.memory.ratelimit import InProcessRateLimiter
from api.app import create_app
from api.client.core import rfc3339
from api.client.signing import request_fingerprint, sign
from api.http.observability import Metrics
from api.http.pipeline.admission import Admission
from api.http.pipeline.guards import require_scope
from api.runtime import Runtime, open_runtime
from api.security.credentials import CredentialService, PartnerCredentials
from api.settings import HttpSection, SealingSection, Settings, StorageSection
from ledger_core.shared.vocabulary import TierLimits

CLAIMS = "/api/v1/claims"
PUBLIC_KEY = "/api/v1/audit/public-key"
MAX_BODY = 4096
CLAIM = (
    b'{"partnerClaimId":"CLM-1","claimType":"auto","claimAmount":"10.00","currency":"USD",'
    b'"submittedAt":"2026-01-15T14:30:00Z","documents":[],"verificationLevel":"standard"}'
)


class Server:
    """An app over a temporary ledger, its open runtime, and the partner ``acme`` (standard tier)."""

    def __init__(self, client: TestClient[Litestar], runtime: Runtime, acme: PartnerCredentials) -> None:
        self.client, self.runtime, self.acme = client, runtime, acme

    def headers(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        query: str = "",
        scopes: tuple[str, ...] = ("claims:write", "claims:read", "audit:read", "documents:write"),
        request_id: str | None = None,
        signature: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """The five headers of ``acme`` for this request (a token with ``scopes``), plus ``extra``."""
        now = datetime.now(UTC)
        token = self.runtime.issuer.issue(partner_id="acme", client_id=self.acme.client_id, scopes=scopes, now=now)
        request_id = request_id or str(uuid.uuid4())
        stamp = rfc3339(now)
        return {
            "Authorization": f"Bearer {token.access_token}",
            "X-API-Key": self.acme.api_key,
            "X-Request-ID": request_id,
            "X-Timestamp": stamp,
            "X-Signature": signature or sign(self.acme.api_secret, method, path, query, stamp, request_id, body),
            "Content-Type": "application/json",
            **(extra or {}),
        }

    def post(self, body: bytes = CLAIM, **options: object) -> httpx.Response:
        return self.client.post(CLAIMS, content=body, headers=self.headers("POST", CLAIMS, body, **options))  # type: ignore[arg-type]

    def failures(self, code: str, reason: str) -> float | None:
        return self.runtime.metrics.registry.get_sample_value(
            "ledger_auth_failures_total", {"code": code, "reason": reason}
        )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The app with a tight anonymous policy (bursts of 2) and small body limits, its lifespan running."""
    settings = Settings(
        storage=StorageSection(data_dir=tmp_path / "data"),
        http=HttpSection(max_body_bytes=MAX_BODY, max_upload_bytes=4 * MAX_BODY),
        sealing=SealingSection(wait_seconds=2.0),
    ).with_limits({"anonymous": TierLimits(60, 2, None)})
    opened: list[Runtime] = []

    def runtime_factory(settings: Settings, metrics: Metrics) -> Runtime:
        opened.append(open_runtime(settings, metrics))
        return opened[0]

    with TestClient(create_app(settings, runtime_factory=runtime_factory)) as client:
        runtime = opened[0]
        credentials = CredentialService(runtime.ledger, runtime.security.deployment_secret)
        acme = credentials.create_partner("acme", "ACME", tier="standard", category="insurance_carrier")
        yield Server(client, runtime, acme)


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_an_authenticated_request_is_admitted_with_its_limits(server: Server) -> None:
    """A correct request passes and carries the partner's rate-limit headers (standard tier)."""
    response = server.client.get(PUBLIC_KEY, headers=server.headers("GET", PUBLIC_KEY))
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "1000"


def test_idempotency_key_in_flight_then_replayed(server: Server) -> None:
    """While the first request holds the key a twin gets 409; once stored, the same request replays."""
    store = server.runtime.security.idempotency
    first = store.begin("acme", "k1", request_fingerprint("POST", CLAIMS, "", CLAIM))
    assert isinstance(first, New)
    busy = server.post(extra={"Idempotency-Key": "k1"})
    assert (busy.status_code, code(busy)) == (409, "IDEMPOTENCY_REQUEST_IN_PROGRESS")
    assert busy.headers["Retry-After"] == "1"
    assert "X-RateLimit-Remaining" in busy.headers
    store.complete("acme", "k1", first.lease, 201, (("content-type", "application/json"),), b"{}")
    again = server.post(extra={"Idempotency-Key": "k1"})
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (201, b"{}", "true")
    assert "X-RateLimit-Limit" in again.headers
    reused = server.post(CLAIM.replace(b"CLM-1", b"CLM-2"), extra={"Idempotency-Key": "k1"})
    assert (reused.status_code, code(reused)) == (422, "IDEMPOTENCY_KEY_REUSED")


def test_a_response_is_stored_and_replayed(server: Server) -> None:
    """The handler's answer to a keyed POST is stored: the same request again gets it, marked replayed."""
    first = server.post(extra={"Idempotency-Key": "k2"})
    assert first.status_code == 201
    again = server.post(extra={"Idempotency-Key": "k2"})
    assert (again.status_code, again.content) == (201, first.content)
    assert (again.headers["Location"], again.headers["Idempotent-Replayed"]) == (first.headers["Location"], "true")


def test_missing_scope_is_refused_after_counting(server: Server) -> None:
    """A token without the handler's scope is 403, the refusal still carries rate-limit headers, and a key it
    sent is not claimed (authorization comes before idempotency)."""
    denied = server.post(scopes=("claims:read",), extra={"Idempotency-Key": "k3"})
    assert (denied.status_code, code(denied)) == (403, "AUTH_INSUFFICIENT_SCOPE")
    assert denied.json()["error"]["details"] == {"required": "claims:write"}
    assert "X-RateLimit-Limit" in denied.headers
    assert server.post(extra={"Idempotency-Key": "k3"}).status_code == 201


def test_authentication_failures_are_charged_to_the_address(server: Server) -> None:
    """Failed authentication counts against the anonymous limit of the client address, then 429."""
    codes = [code(server.post(signature="0" * 64)) for _ in range(3)]
    assert codes == ["AUTH_INVALID_SIGNATURE", "AUTH_INVALID_SIGNATURE", "RATE_LIMIT_EXCEEDED"]
    assert server.failures("AUTH_INVALID_SIGNATURE", "mismatch") == 3


def test_a_replayed_request_is_charged_to_the_address_not_the_partner(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay check runs with the partner's rate limit (one Redis script in production): a replayed
    id is AUTH_REPLAYED_REQUEST, counted as an authentication failure and charged to the address's
    anonymous limit, while the partner's allowance is not touched."""
    limiter = server.runtime.security.limits.limiter
    assert isinstance(limiter, InProcessRateLimiter)
    frozen = time.time()
    monkeypatch.setattr(limiter, "_clock", lambda: frozen)  # no allowance comes back between the requests
    request_id = "6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b"
    first = server.client.get(PUBLIC_KEY, headers=server.headers("GET", PUBLIC_KEY, request_id=request_id))
    remaining = int(first.headers["X-RateLimit-Remaining"])
    replayed = server.client.get(PUBLIC_KEY, headers=server.headers("GET", PUBLIC_KEY, request_id=request_id))
    assert (replayed.status_code, code(replayed)) == (401, "AUTH_REPLAYED_REQUEST")
    assert replayed.headers["X-RateLimit-Limit"] == "60"  # the anonymous policy (the partner has 1000)
    assert server.failures("AUTH_REPLAYED_REQUEST", "seen") == 1
    after = server.client.get(PUBLIC_KEY, headers=server.headers("GET", PUBLIC_KEY))
    assert int(after.headers["X-RateLimit-Remaining"]) == remaining - 1


class RecordingBody:
    """A streamed request body that records how much of it the server asked for."""

    def __init__(self, chunks: int, size: int = 65_536) -> None:
        self.chunks, self.size, self.consumed = chunks, size, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.chunks):
            self.consumed += self.size
            yield b" " * self.size


def test_an_unauthenticated_request_is_refused_without_reading_its_body(server: Server) -> None:
    """Bad credentials with a body far over the limit: 401 from the headers alone, not a byte of the body
    read (the body is read only once the headers are authenticated)."""
    body = RecordingBody(chunks=64)
    headers = {**server.headers("POST", CLAIMS, b"", signature="0" * 64), "Authorization": "Bearer x.y.z"}
    response = server.client.post(CLAIMS, content=iter(body), headers=headers)
    assert (response.status_code, code(response)) == (401, "AUTH_INVALID_TOKEN")
    assert body.consumed == 0
    expired = RecordingBody(chunks=64)
    stale = {**server.headers("POST", CLAIMS, b""), "X-Timestamp": "2020-01-01T00:00:00Z"}
    response = server.client.post(CLAIMS, content=iter(expired), headers=stale)
    assert (response.status_code, code(response), expired.consumed) == (401, "AUTH_REQUEST_EXPIRED", 0)


def test_a_declared_length_over_the_limit_is_refused_before_reading(server: Server) -> None:
    """An authenticated request declaring a body over the limit is 413 without the body being read."""
    body = RecordingBody(chunks=2)
    headers = server.headers("POST", CLAIMS, b"", extra={"Content-Length": str(2 * 65_536)})
    response = server.client.post(CLAIMS, content=iter(body), headers=headers)
    assert (response.status_code, code(response)) == (413, "PAYLOAD_TOO_LARGE")
    assert response.json()["error"]["details"] == {"limit": MAX_BODY}
    assert body.consumed == 0


def test_the_signature_covers_the_body_read_after_the_headers(server: Server) -> None:
    """A body other than the one signed fails the signature once it is read (AUTH_INVALID_SIGNATURE)."""
    headers = server.headers("POST", CLAIMS, CLAIM)
    response = server.client.post(CLAIMS, content=CLAIM.replace(b"10.00", b"99.00"), headers=headers)
    assert (response.status_code, code(response)) == (401, "AUTH_INVALID_SIGNATURE")


def test_a_malformed_upload_is_reported_once_admitted_and_releases_its_key(server: Server) -> None:
    """A malformed multipart upload is 400 for an admitted caller and leaves its key free (no replay); a
    caller without the scope gets 403 first."""
    path = "/api/v1/documents"
    body = b'--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--b--\r\n'
    extra = {"Content-Type": "multipart/form-data; boundary=b", "Idempotency-Key": "k4"}
    for _ in range(2):
        response = server.client.post(path, content=body, headers=server.headers("POST", path, body, extra=extra))
        assert (response.status_code, code(response)) == (400, "VALIDATION_ERROR")
        assert "Idempotent-Replayed" not in response.headers
    narrow = server.headers("POST", path, body, scopes=("claims:read",), extra=extra)
    assert code(server.client.post(path, content=body, headers=narrow)) == "AUTH_INSUFFICIENT_SCOPE"


def test_an_upload_is_hashed_as_it_streams(server: Server) -> None:
    """A raw upload larger than the body limit (but within the upload limit) registers its SHA-256."""
    path, query = "/api/v1/documents", "type=photo"
    document = bytes(range(256)) * 40  # 10 KiB, over MAX_BODY
    headers = server.headers("POST", path, document, query=query, extra={"Content-Type": "image/png"})
    response = server.client.post(f"{path}?{query}", content=document, headers=headers)
    assert response.status_code == 201
    assert response.json()["hash"] == hashlib.sha256(document).hexdigest()


def test_every_method_is_authenticated(server: Server) -> None:
    """OPTIONS (which Litestar's authentication middleware lets through by default) is authenticated too."""
    response = server.client.options(CLAIMS)
    assert (response.status_code, code(response)) == (401, "AUTH_INVALID_TOKEN")


def test_every_api_route_runs_the_whole_pipeline(tmp_path: Path) -> None:
    """Each /api/v1 handler (the automatic OPTIONS ones too) has the four middleware, the scope guard and the
    admission hook: a layer closer to the handler that set its own ``before_request`` would silently
    replace the admission hook (Litestar keeps the closest one), and this would fail."""
    app = create_app(Settings(storage=StorageSection(data_dir=tmp_path / "data")))
    outermost_first = [
        "ClientAddressMiddleware",
        "EdgeMiddleware",
        "PartnerAuthentication",
        "SignedBody",
        "RateLimitMiddleware",
        "IdempotencyMiddleware",
    ]
    handlers = [
        handler
        for route in app.routes
        if route.path.startswith("/api/v1/") and isinstance(route, HTTPRoute)
        for handler in route.route_handlers
    ]
    assert len(handlers) > 30
    for handler in handlers:
        stack = [
            getattr(m, "middleware", m) for m in reversed(handler.resolve_middleware())
        ]  # Litestar: innermost first
        assert [m.__name__ if isinstance(m, type) else type(m).__name__ for m in stack] == outermost_first
        assert require_scope in [getattr(guard, "func", guard) for guard in handler.resolve_guards()]
        assert isinstance(handler.resolve_before_request(), Admission), handler
