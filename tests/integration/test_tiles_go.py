"""Our tlog-tiles endpoints read by an independent verifier: Go's golang.org/x/mod/sumdb/tlog.

A real server (tests/support/http_server.py) over a ledger of 700 entries sealed as checkpoints 300, 600
and 700 (so tiles are full, partial, and at level 1); tests/data/go/tiles_check.go fetches ``/checkpoint``,
checks its signature with sumdb/note, reads hashes only through ``tlog.TileHashReader`` over our
``/tile/...`` paths (it authenticates every tile against the checkpoint root), proves entries taken from
our entry bundles with ProveRecord/CheckRecord, and the older checkpoint with TreeHash/ProveTree/CheckTree.
Then the HTTP details: caching headers, partial prefixes, 404s. On SQLite and PostgreSQL.

Needs ``go`` and Debian's golang-golang-x-mod-dev; skipped without them unless ``LEDGER_REQUIRE_GO=1``.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from support.http_server import live_server, server_env
from support.toy import Account

from adapters.files.signing_key import load_signing_key, signing_key_path
from adapters.opening import open_ledger
from adapters.storage import StorageConfig, open_tree_store
from ledger_core.domain import ALL_AGGREGATES
from proofs.hashing import leaf_hash
from proofs.tiles import parse_entry_bundle
from proofs.tree import root_from_leaves

DATA = Path(__file__).parents[1] / "data"
GOPATH = Path("/usr/share/gocode")
SIZES = (300, 600, 700)


def _go() -> str:
    go = shutil.which("go")
    if go is None or not (GOPATH / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        if os.environ.get("LEDGER_REQUIRE_GO") == "1":
            pytest.fail("go and golang-golang-x-mod-dev are required (LEDGER_REQUIRE_GO=1)")
        pytest.skip("go or golang-golang-x-mod-dev not installed")
    return go


def build_ledger(data_dir: Path, database_url: str | None) -> str:
    """``ledger init``, then toy entries sealed by ``ledger seal`` at each of SIZES; returns the log's vkey."""
    env = server_env(data_dir, database_url)
    where = ["--data-dir", str(data_dir)] + ([] if database_url is None else ["--database-url", database_url])
    init = subprocess.run([sys.executable, "-m", "api", "init", *where], capture_output=True, text=True, env=env)
    assert init.returncode == 0, init.stderr
    written = 0
    for size in SIZES:
        with open_ledger(StorageConfig(data_dir, database_url), aggregates=(*ALL_AGGREGATES, Account)) as ledger:
            ledger.app.save(*[Account.open("acme", f"t{i}") for i in range(written, size)])
        written = size
        seal = subprocess.run([sys.executable, "-m", "api", "seal", *where], capture_output=True, text=True, env=env)
        assert seal.returncode == 0, seal.stderr
    return load_signing_key(signing_key_path(data_dir, None)[0]).verifier().vkey


def test_go_tlog_reads_and_verifies_our_tiles(database_url: str, tmp_path: Path) -> None:
    go = _go()
    data_dir = tmp_path / "data"
    url = None if database_url.startswith("sqlite") else database_url
    vkey = build_ledger(data_dir, url)
    store = open_tree_store(StorageConfig(data_dir, url))
    try:
        old = store.checkpoint_at(600)
        leaves = store.leaf_hashes(0, 700)
    finally:
        store.close()
    assert old is not None
    with live_server(data_dir, url, extra_env={"LEDGER_TILE_ENTRIES_PUBLIC": "1"}) as server:
        env = os.environ | {"GO111MODULE": "off", "GOPATH": str(GOPATH), "GOCACHE": str(tmp_path / "gocache")}
        indexes = ["0", "1", "255", "256", "511", "512", "599", "600", "698", "699"]
        root = base64.b64encode(old.root_hash).decode()
        args = [go, "run", str(DATA / "go" / "tiles_check.go"), server.url, vkey, "600", root, *indexes]
        checked = subprocess.run(args, capture_output=True, text=True, check=False, env=env, timeout=600)
        assert checked.returncode == 0, checked.stderr
        assert checked.stdout.split() == ["ok", "700", str(len(indexes))]

        with httpx.Client(base_url=server.url) as http:
            full = http.get("/tile/0/000")
            assert full.status_code == 200
            assert full.headers["content-type"] == "application/octet-stream"
            assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert full.content == b"".join(leaves[:256])
            partial = http.get("/tile/0/002.p/188")
            assert partial.content == b"".join(leaves[512:700])
            assert partial.headers["cache-control"] == "public, max-age=5"
            assert http.get("/tile/0/002.p/88").content == b"".join(leaves[512:600])  # an older tree's tile
            assert http.get("/tile/1/000.p/2").content == _level_8(leaves)
            bundle = parse_entry_bundle(http.get("/tile/entries/001").content)
            assert [leaf_hash(entry) for entry in bundle] == leaves[256:512]
            for missing in ("/tile/0/002", "/tile/0/002.p/189", "/tile/0/003.p/1", "/tile/0/x000/002", "/tile/9/0"):
                assert http.get(missing).status_code == 404, missing
            checkpoint = http.get("/checkpoint")
            assert checkpoint.text.split("\n")[1] == "700"


def _level_8(leaves: Sequence[bytes]) -> bytes:
    """The two hashes of tree level 8 over 700 leaves (MTH of leaves 0..255 and 256..511)."""
    return root_from_leaves(leaves[:256]) + root_from_leaves(leaves[256:512])
