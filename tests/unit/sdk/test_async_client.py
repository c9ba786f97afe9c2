"""The async SDK has the sync SDK's surface, generated so it cannot drift, and keeps the checkpoint state."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path

import httpx
import pytest

from api.client import _unasync
from api.client.aio import AsyncLedgerClient
from api.client.core import LedgerApiError
from api.client.ledger_client import LedgerClient
from proofs.checkpoint import Checkpoint, signed_checkpoint
from proofs.client_state import CheckpointState, Comparison, StateMismatch
from proofs.hashing import leaf_hash
from proofs.note import generate_signer
from proofs.tree import CompactRange

AIO = Path(_unasync.__file__).parent / "aio.py"


def test_the_async_module_is_what_the_generator_writes() -> None:
    """aio.py is regenerated from the sync mixins by ``python -m api.client._unasync``; edit those, not it."""
    assert AIO.read_text(encoding="utf-8") == _unasync.generate()


def test_same_public_surface_every_endpoint_awaitable() -> None:
    """Every public method of LedgerClient exists on AsyncLedgerClient with the same parameters, awaitable
    (or an async iterator), static offline checks excepted."""
    sync = {name: member for name, member in inspect.getmembers(LedgerClient) if not name.startswith("_")}
    both = {name: getattr(AsyncLedgerClient, name) for name in sync}
    assert set(both) <= set(dir(AsyncLedgerClient))
    for name, method in sync.items():
        if not inspect.isfunction(method):
            continue
        twin = both[name]
        assert list(inspect.signature(twin).parameters) == list(inspect.signature(method).parameters), name
        if isinstance(inspect.getattr_static(LedgerClient, name), staticmethod):
            continue
        assert inspect.iscoroutinefunction(twin) or inspect.isasyncgenfunction(twin), name


def log_of(size: int) -> tuple[list[bytes], CompactRange]:
    tree = CompactRange()
    leaves = [f"entry-{i}".encode() for i in range(size)]
    for leaf in leaves:
        tree.append(leaf_hash(leaf))
    return leaves, tree


def test_async_errors_carry_the_request_id_and_the_state_catches_a_split_view(tmp_path: Path) -> None:
    """str(error) names the request id; a checkpoint of a remembered size with another root is refused."""
    signer = generate_signer("ledger.test/log")
    vkey = signer.verifier().vkey
    _, tree = log_of(5)
    note = signed_checkpoint(Checkpoint("ledger.test/log", 5, tree.root()), signer)
    forged = signed_checkpoint(Checkpoint("ledger.test/log", 5, b"\x01" * 32), signer)
    served = iter([note, forged])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            token = {"access_token": "t", "token_type": "Bearer", "expires_in": 3600, "scope": ""}
            return httpx.Response(200, json=token)
        if request.url.path == "/api/v1/audit/checkpoint":
            return httpx.Response(200, text=next(served))
        error = {"code": "CLAIM_NOT_FOUND", "message": "claim not found", "details": {}, "requestId": "req-7"}
        return httpx.Response(404, json={"error": {**error, "documentation": ""}})

    async def scenario() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://ledger.test")
        state = tmp_path / "state.json"
        async with AsyncLedgerClient(
            "http://ledger.test", client_id="c", client_secret="s", api_key="k", api_secret="x" * 43,
            http=http, vkey=vkey, state=state,
        ) as client:  # fmt: skip
            with pytest.raises(LedgerApiError, match=r"404 CLAIM_NOT_FOUND: claim not found \(request_id req-7\)"):
                await client.get_claim("nope")
            assert await client.checkpoint() == note
            assert json.loads(state.read_text())["logs"]["ledger.test/log"]["size"] == 5
            with pytest.raises(StateMismatch, match="split view"):
                await client.checkpoint()

    asyncio.run(scenario())


def test_the_state_moves_forward_only_on_a_consistency_proof(tmp_path: Path) -> None:
    """Newer and consistent: remembered; a rollback of the latest checkpoint, or an inconsistent one: refused."""
    from proofs.prove import consistency_proof

    signer = generate_signer("ledger.test/log")
    _, small = log_of(3)
    _, large = log_of(8)
    state = CheckpointState(tmp_path / "s.json")
    first = Checkpoint("ledger.test/log", 3, small.root())
    assert state.observe(first, "note-3") is Comparison.FIRST
    nodes: dict[object, bytes] = {}
    tree = CompactRange()
    for i in range(8):
        nodes.update({node.id: node.hash for node in tree.append(leaf_hash(f"entry-{i}".encode()))})
    path = consistency_proof(3, 8, lambda ids: {i: nodes[i] for i in ids if i in nodes})
    second = Checkpoint("ledger.test/log", 8, large.root())
    assert state.observe(second, "note-8", None) is Comparison.UNCHECKED
    assert state.observe(second, "note-8", lambda _a, _b: path) is Comparison.ADVANCED
    assert CheckpointState(tmp_path / "s.json").remembered("ledger.test/log").size == 8  # type: ignore[union-attr]
    with pytest.raises(StateMismatch, match="rollback"):
        state.observe(first, "note-3", latest=True)
    rewritten = Checkpoint("ledger.test/log", 9, b"\x02" * 32)
    with pytest.raises(StateMismatch, match="rewritten"):
        state.observe(rewritten, "note-9", lambda _a, _b: [b"\x03" * 32])
    assert signer.verifier().vkey
