"""docs/authentication.md stays true: its worked example, signer, header and code tables are recomputed."""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from adapters.idempotency import IdempotencyKeyInFlight, IdempotencyKeyInvalid, IdempotencyKeyMismatch
from adapters.memory.ratelimit import InProcessRateLimiter
from adapters.ratelimit import RatePolicy, rate_limit_headers
from api.client.signing import canonical_query, sign, string_to_sign
from api.security import AUTH_ERROR_CODES
from api.security.tokens import parse_token_request

from .helpers import FakeClock

DOC = (Path(__file__).parents[3] / "docs" / "authentication.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n#", start + len(title))
    return DOC[start : end if end > 0 else None]


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def _fields(block: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)


EXAMPLE = _section("### Worked example")
INPUTS, RESULTS = (_fields(block) for block in _blocks(EXAMPLE, "text")[:2])
BODY = INPUTS["body"].encode("utf-8")
ARGS = (INPUTS["method"], INPUTS["path"], INPUTS["query"], INPUTS["X-Timestamp"], INPUTS["X-Request-ID"], BODY)


def test_worked_example_results_recompute() -> None:
    """Canonical query, body hash, string_to_sign (escaped newlines) and X-Signature match the code."""
    assert canonical_query(INPUTS["query"]) == RESULTS["canonical query"]
    assert hashlib.sha256(BODY).hexdigest() == RESULTS["SHA-256(body)"]
    assert string_to_sign(*ARGS) == RESULTS["string_to_sign"].replace("\\n", "\n").encode()
    assert sign(INPUTS["apiSecret"], *ARGS) == RESULTS["X-Signature"]


def test_worked_example_body_length_is_stated_correctly() -> None:
    """The page says how many bytes the body has; it is right."""
    stated = re.search(r"The body is the (\d+) bytes", EXAMPLE)
    assert stated is not None
    assert int(stated.group(1)) == len(BODY)


def test_wire_request_carries_the_example_headers() -> None:
    """The example HTTP request sends the documented query, request id, timestamp and signature."""
    wire = _blocks(EXAMPLE, "http")[0]
    assert wire.startswith(f"{INPUTS['method']} {INPUTS['path']}?{INPUTS['query']} HTTP/1.1\n")
    headers = _fields(wire)
    assert headers["X-Request-ID"] == INPUTS["X-Request-ID"]
    assert headers["X-Timestamp"] == INPUTS["X-Timestamp"]
    assert headers["X-Signature"] == RESULTS["X-Signature"]
    assert wire.rstrip("\n").endswith(INPUTS["body"])


def test_standalone_python_signer_prints_the_signature() -> None:
    """The copyable stdlib-only signer on the page produces the documented X-Signature."""
    (code,) = _blocks(EXAMPLE, "python")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, "docs/authentication.md", "exec"), {})
    assert output.getvalue().strip() == RESULTS["X-Signature"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_openssl_recipe_prints_the_signature() -> None:
    """The OpenSSL one-liner on the page produces the documented X-Signature."""
    (script,) = _blocks(EXAMPLE, "bash")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split()[0] == RESULTS["X-Signature"]


def test_rate_limit_header_example_is_what_the_limiter_sends() -> None:
    """The sandbox header example is exactly the first response of the day at 14:30:00 UTC."""
    (block,) = _blocks(_section("## 4. Rate limits"), "http")
    policy = RatePolicy.for_tier("sandbox")
    decision = InProcessRateLimiter(FakeClock(1_768_487_400.0)).check("acme", policy)
    assert _fields(block) == rate_limit_headers(decision, policy)


def test_token_request_examples_parse() -> None:
    """Both token request examples (form with Basic, JSON with body credentials) are accepted as written."""
    form_request, json_request = _blocks(_section("## 1. Get an access token"), "http")[:2]
    head, _, body = form_request.partition("\n\n")
    parsed = parse_token_request(_fields(head)["Content-Type"], body.strip().encode(), _fields(head)["Authorization"])
    assert (parsed.client_id, parsed.client_secret) == ("partner_acme_insurance", "cs_example-secret")
    assert parsed.scopes == ("claims:read", "claims:write")
    head, _, body = json_request.partition("\n\n")
    parsed = parse_token_request(_fields(head)["Content-Type"], body.strip().encode(), None)
    assert (parsed.client_id, parsed.client_secret, parsed.scopes) == (
        "partner_acme_insurance",
        "cs_example-secret",
        None,
    )


def test_documented_error_codes_exist() -> None:
    """Every AUTH_* code in the check table is a real code, and every real one is documented."""
    table = _section("## 3. What the server checks")
    documented = set(re.findall(r"`(AUTH_[A-Z_]+)`", table)) - {"AUTH_INSUFFICIENT_SCOPE"}
    assert documented == set(AUTH_ERROR_CODES)
    idempotency = _section("## 5. Idempotent POSTs")
    for error in (IdempotencyKeyMismatch, IdempotencyKeyInFlight, IdempotencyKeyInvalid):
        assert f"**{error.status}** `{error.code}`" in idempotency
