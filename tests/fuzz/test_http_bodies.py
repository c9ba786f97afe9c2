"""Hostile request bodies and bearer tokens through a real server: no 5xx, every refusal in the envelope.

The HTTP end of :mod:`test_parsers` (issue 18 item 14b): each operation that takes a JSON body gets its
own documented example, mutated (see :mod:`support.fuzzing`: bytes flipped, cut, repeated; brackets
nested thousands deep; numbers past 64 bits and past ``int()``'s digit limit; duplicate names; bad
UTF-8), as a correctly signed request. Whatever the body, the answer is below 500 and, when a refusal,
the seed 7.1 envelope with a code of the error table. Bearer tokens get the same treatment on a read.
Bounded: a few dozen requests each against one embedded server.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fuzzing import inputs
from support.http_server import LiveServer, live_server

from api.client.ledger_client import LedgerClient
from api.http.errors import ERROR_CODES
from ledger_core.shared.vocabulary import SCOPES

FUZZ = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("fuzz_http") / "data") as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> LedgerClient:
    credentials = server.create_partner(f"fz_{uuid.uuid4().hex[:8]}", scopes=sorted(SCOPES))
    return server.client(credentials, max_retries=0)


@pytest.fixture(scope="module")
def operations(server: LiveServer) -> list[tuple[str, str, bytes]]:
    """``(method, path, example body)`` of every partner operation with a JSON request body (ids made up;
    the operator routes answer a partner 403 before reading a body)."""
    document = httpx.get(f"{server.url}/schema/openapi.json", timeout=10).json()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if media is None or not path.startswith("/api/") or path.startswith("/api/v1/operations/"):
                continue
            example = example_of(document, media)
            concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
            found.append((method.upper(), concrete, json.dumps(example).encode()))
    assert len(found) >= 5, found
    return found


def example_of(document: dict[str, Any], media: dict[str, Any]) -> Any:
    """The media's own example, else its component schema's (what the documentation shows)."""
    if "example" in media:
        return media["example"]
    for entry in media.get("examples", {}).values():
        return entry["value"]
    name = media["schema"].get("$ref", "").rsplit("/", 1)[-1]
    return document["components"]["schemas"].get(name, {}).get("examples", [{}])[0]


def assert_enveloped(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        error: dict[str, Any] = response.json()["error"]
        assert set(error) >= {"code", "message", "details", "requestId"}, response.text[:300]
        assert error["code"] in ERROR_CODES, error


def test_mutated_bodies_never_get_a_server_error(
    client: LedgerClient, operations: list[tuple[str, str, bytes]]
) -> None:
    seeds = [body for _, _, body in operations]

    @FUZZ
    @given(index=st.integers(0, len(operations) - 1), body=inputs(seeds))
    def send(index: int, body: bytes) -> None:
        method, path, _ = operations[index]
        headers = {**client.signed_headers(method, path, "", body), "Content-Type": "application/json"}
        headers["Idempotency-Key"] = str(uuid.uuid4())
        assert_enveloped(client.http.request(method, path, content=body, headers=headers))

    send()


def test_mutated_bearer_tokens_are_refused_in_the_envelope(client: LedgerClient) -> None:
    path = "/api/v1/webhooks/endpoints"
    token = client.signed_headers("GET", path, "", b"")["Authorization"].removeprefix("Bearer ")

    @FUZZ
    @given(mutated=inputs([token.encode("ascii")]))
    def send(mutated: bytes) -> None:
        headers = client.signed_headers("GET", path, "", b"")
        headers["Authorization"] = "Bearer " + mutated.decode("latin-1")
        try:
            response = client.http.get(path, headers=headers)
        except (httpx.LocalProtocolError, UnicodeEncodeError):
            return  # not sendable as a header (a newline, a NUL): never reaches a server
        if response.status_code == 400 and response.text == "Invalid HTTP request received.":
            return  # a byte HTTP/1.1 forbids in a header (RFC 9110 5.5): uvicorn's parser refuses it before the app
        assert_enveloped(response)
        assert response.status_code in (200, 400, 401), response.text[:300]

    send()
