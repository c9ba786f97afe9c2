"""Which requests have their Idempotency-Key claimed with the rate limit (api/http/pipeline/idempotency.py):
only a POST with a well-formed key whose token has the handler's scope, with the fingerprint ``begin`` uses."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from adapters.memory.idempotency import InProcessIdempotencyStore
from adapters.request_gate import IdempotencyClaim
from api.client.signing import fingerprint_of_digest
from api.http.pipeline.body import BODY_SHA256
from api.http.pipeline.idempotency import Idempotency
from api.security.tokens import AccessToken

DIGEST = "ab" * 32
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _scope(method: str = "POST", key: bytes | None = b"key-1", scopes: tuple[str, ...] = ("claims:write",)) -> Any:
    headers = [] if key is None else [(b"idempotency-key", key)]
    return {
        "type": "http",
        "method": method,
        "path": "/api/v1/claims",
        "raw_path": b"/api/v1/claims",
        "query_string": b"a=1",
        "headers": headers,
        "state": {BODY_SHA256: DIGEST},
        "route_handler": SimpleNamespace(opt={"scope": "claims:write"}),
        "user": AccessToken("acme", "client", scopes, "jti", NOW, NOW),
    }


@pytest.fixture
def idempotency() -> Idempotency:
    store = InProcessIdempotencyStore()
    return Idempotency(lambda: store)


def test_a_post_with_a_key_and_the_scope_is_claimed_early(idempotency: Idempotency) -> None:
    expected = IdempotencyClaim("key-1", fingerprint_of_digest("POST", "/api/v1/claims", "a=1", DIGEST))
    assert idempotency.early_claim(_scope()) == expected


@pytest.mark.parametrize(
    "scope",
    [
        _scope(method="GET"),  # only POSTs hold keys
        _scope(key=None),  # no key
        _scope(key=b"x" * 300),  # malformed: begin answers 400, nothing is claimed
        _scope(scopes=("claims:read",)),  # the guard answers 403: nothing may be claimed
    ],
    ids=["get", "no-key", "malformed-key", "missing-scope"],
)
def test_requests_the_handler_will_not_see_claim_nothing_early(idempotency: Idempotency, scope: Any) -> None:
    assert idempotency.early_claim(scope) is None
