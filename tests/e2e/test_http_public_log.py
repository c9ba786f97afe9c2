"""The public log routes the auditor console reads (``/auditor/log``): no credentials, the audit routes' bytes.

Checkpoints, consistency proofs and verifier keys describe the whole log; nothing partner-specific or
personal is reachable without credentials. The console page itself is served at ``/auditor``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support.http_server import TIGHT, claim_body, first_sealed_size, live_server

from api.client.ledger_client import LedgerClient
from proofs.documents import verify_document


@dataclass
class Public:
    http: httpx.Client
    client: LedgerClient
    size: int
    early_size: int
    """The size of a checkpoint sealed before the claims were submitted."""


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Public]:
    with live_server(tmp_path_factory.mktemp("public-log") / "data") as server:
        client = server.client(server.create_partner(f"p_{uuid.uuid4().hex[:8]}"))
        early = first_sealed_size(client)  # a checkpoint before the claims, for the consistency test to prove from
        client.submit_claim(claim_body("CLM-PUBLIC-1"))
        proof = client.submit_claim(claim_body("CLM-PUBLIC-2")).proof
        assert proof is not None
        with httpx.Client(base_url=server.url, timeout=30) as http:
            yield Public(http, client, proof.tree_size, early)


def test_checkpoints_and_keys_without_credentials_are_the_audit_routes_bytes(public: Public) -> None:
    latest = public.http.get("/auditor/log/checkpoint")
    assert latest.status_code == 200
    assert latest.headers["content-type"] == "text/plain; charset=utf-8"
    assert latest.text == public.client.checkpoint()
    sized = public.http.get(f"/auditor/log/checkpoints/{public.size}")
    assert sized.text == public.client.checkpoint(public.size)
    keys = public.http.get("/auditor/log/public-key")
    assert keys.text.splitlines() == public.client.public_keys()


def test_a_public_consistency_proof_verifies_offline(public: Public) -> None:
    answer = public.http.get("/auditor/log/consistency", params={"from": public.early_size, "to": public.size})
    assert answer.status_code == 200
    report = verify_document(answer.json(), [public.client.public_key()])
    assert report.format == "proveniq-ledger/consistency-proof/v1"
    assert sorted(report.checkpoints) == [public.early_size, public.size]


def test_errors_are_the_envelope(public: Public) -> None:
    missing = public.http.get(f"/auditor/log/checkpoints/{public.size + 1000}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "CHECKPOINT_NOT_FOUND"
    reversed_sizes = public.http.get("/auditor/log/consistency", params={"from": public.size, "to": 1})
    assert reversed_sizes.status_code == 400
    assert reversed_sizes.json()["error"]["code"] == "VALIDATION_ERROR"


def test_nothing_partner_specific_is_public(public: Public) -> None:
    """Entries and entry proofs stay behind credentials; the console page is HTML outside the schema."""
    assert public.http.get("/auditor/log/proofs/0").status_code == 404
    assert public.http.get("/api/v1/audit/checkpoint").status_code == 401
    page = public.http.get("/auditor")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/static/pages/auditor/console.js" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    schema = public.http.get("/schema/openapi.json").json()
    assert "/auditor" not in schema["paths"]
    assert "/auditor/log/checkpoint" in schema["paths"]
    assert "security" not in schema["paths"]["/auditor/log/checkpoint"]["get"]


def test_the_anonymous_rate_limit_applies(tmp_path: Path) -> None:
    """No credentials, so the client address's anonymous policy counts: headers on answers, then a 429."""
    tight = {tier: [1_000_000, 100_000, None] for tier in ("sandbox", "standard", "enterprise")}
    limits = {"LEDGER_RATE_LIMITS": json.dumps(tight | {"anonymous": TIGHT})}
    with live_server(tmp_path / "data", extra_env=limits) as server, httpx.Client(base_url=server.url) as http:
        answers = [http.get("/auditor/log/public-key") for _ in range(10)]
    assert answers[0].status_code == 200
    assert "x-ratelimit-limit" in answers[0].headers
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused, [answer.status_code for answer in answers]
    assert refused[0].json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert "retry-after" in refused[0].headers
