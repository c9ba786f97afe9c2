"""``POST /api/v1/claims`` with ``Prefer: respond-async`` (RFC 7240 §4.1), through HTTP on both backends.

The server answers 202 at commit with a signed promise of inclusion (proofs/promise.py): it verifies
with the log's key, the proof fetched later shows the promised leaf index and leaf hash, a tampered
promise fails (SDK and ``ledger proof verify-promise``), an idempotent replay answers the same promise,
and without the header the answer is today's (the sealed proof).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from support.http_server import LiveServer, claim_body, servers

from api.client.core import LedgerApiError
from api.client.ledger_client import LedgerClient
from api.client.schemas import common as schemas
from proofs.errors import ProofError, SignatureInvalid
from proofs.promise import InclusionPromise, verify_promise

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from servers(request, tmp_path_factory, request.param)


@pytest.fixture
def client(server: LiveServer) -> LedgerClient:
    return server.client(server.create_partner(f"p_{uuid.uuid4().hex[:10]}"))


def links(header: str) -> list[str]:
    """The links of a ``Link`` header (RFC 8288), each as sent; the version's deprecation links ride along."""
    return [link.strip() for link in header.split(",")]


def proof_once_sealed(client: LedgerClient, claim_id: str) -> schemas.Proof:
    """GET /claims/{id}/proof until the claim's entry is sealed (409 NOT_SEALED before), waiting at most 30 s."""
    deadline = time.monotonic() + 30
    while True:
        try:
            proof = client.get_claim_proof(claim_id).proof
        except LedgerApiError as error:
            if error.code != "NOT_SEALED" or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
            continue
        assert proof is not None
        return proof


def test_respond_async_answers_a_promise_the_proof_keeps(client: LedgerClient) -> None:
    vkey = client.public_key()
    answer = client.submit_claim(claim_body(f"CLM-{uuid.uuid4().hex[:8]}"), respond_async=True)
    response = client.last_response
    assert response is not None
    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "respond-async"
    location = f"/api/v1/claims/{answer.claim_id}"
    assert response.headers["Location"] == location
    assert f'<{location}/proof>; rel="related"' in links(response.headers["Link"])
    assert answer.proof is None
    assert answer.promise is not None
    assert answer.status == "pending"  # recorded and verified (no documents yet) before the answer

    made = LedgerClient.verify_promise_offline(answer.promise, vkey)
    assert made.origin == vkey.split("+", 1)[0]
    assert abs(made.timestamp / 1000 - time.time()) < 600  # the server's clock, in milliseconds

    proof = proof_once_sealed(client, answer.claim_id)
    assert (proof.leaf_index, proof.leaf_hash) == (answer.promise.leaf_index, answer.promise.leaf_hash)
    LedgerClient.verify_promise_offline(answer.promise, vkey, proof)


def test_a_tampered_promise_fails(client: LedgerClient) -> None:
    vkey = client.public_key()
    first = client.submit_claim(claim_body(f"CLM-{uuid.uuid4().hex[:8]}"), respond_async=True)
    second = client.submit_claim(claim_body(f"CLM-{uuid.uuid4().hex[:8]}"), respond_async=True)
    assert first.promise is not None
    assert second.promise is not None
    moved = dataclasses.replace(InclusionPromise.from_json(msgspec.to_builtins(first.promise)), leaf_index=10**6)
    with pytest.raises(SignatureInvalid):
        verify_promise(moved, vkey)
    # A genuine promise is not kept by another entry's proof.
    with pytest.raises(ProofError, match="promise not kept"):
        LedgerClient.verify_promise_offline(first.promise, vkey, proof_once_sealed(client, second.claim_id))


def test_without_the_preference_the_answer_waits_for_the_seal(client: LedgerClient) -> None:
    answer = client.submit_claim(claim_body(f"CLM-{uuid.uuid4().hex[:8]}"))
    response = client.last_response
    assert response is not None
    assert response.status_code == 201
    assert "Preference-Applied" not in response.headers
    assert answer.proof is not None
    assert answer.promise is None
    assert b'"promise"' not in response.content


def test_replays_answer_the_same_promise(client: LedgerClient) -> None:
    body = claim_body(f"CLM-{uuid.uuid4().hex[:8]}")
    key = str(uuid.uuid4())
    first = client.submit_claim(body, idempotency_key=key, respond_async=True)
    replayed = client.submit_claim(body, idempotency_key=key, respond_async=True)
    response = client.last_response
    assert response is not None
    assert response.headers.get("Idempotent-Replayed") == "true"
    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "respond-async"
    assert sorted(links(response.headers["Link"])) == sorted(set(links(response.headers["Link"])))  # none twice
    assert replayed.promise == first.promise  # the stored answer, signature included
    # A resubmission under a new key is the same claim: a promise of the same entry.
    again = client.submit_claim(body, respond_async=True)
    assert again.promise is not None
    assert first.promise is not None
    assert (again.promise.leaf_index, again.promise.leaf_hash) == (first.promise.leaf_index, first.promise.leaf_hash)
    LedgerClient.verify_promise_offline(again.promise, client.public_key())


def test_the_cli_verifies_a_promise_and_its_proof(client: LedgerClient, tmp_path: Path) -> None:
    vkey = client.public_key()
    answer = client.submit_claim(claim_body(f"CLM-{uuid.uuid4().hex[:8]}"), respond_async=True)
    assert answer.promise is not None
    promise_file, proof_file = tmp_path / "promise.json", tmp_path / "proof.json"
    promise_file.write_text(json.dumps(msgspec.to_builtins(answer)), encoding="utf-8")  # the whole 202 body
    proof = proof_once_sealed(client, answer.claim_id)
    proof_file.write_text(json.dumps(msgspec.to_builtins(proof)), encoding="utf-8")

    def verify(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "api", "proof", "verify-promise", str(promise_file), "--vkey", vkey]
        return subprocess.run([*command, *extra], capture_output=True, text=True, check=False, cwd=ROOT)

    done = verify("--proof", str(proof_file))
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["valid"] is True
    assert shown["kept"] is True
    assert shown["leafIndex"] == proof.leaf_index

    tampered = msgspec.to_builtins(answer.promise) | {"timestamp": answer.promise.timestamp + 1}
    promise_file.write_text(json.dumps(tampered), encoding="utf-8")
    failed = verify()
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["valid"] is False
