"""``ledger keys rotate`` (issue 18, item 11): a new checkpoint signing key of the same origin; the old
verifier key still verifies the checkpoints signed before the rotation (``ledger verify``, ``proof
verify``, ``audit verify`` with either key), and ``GET /api/v1/audit/public-key`` lists both, current first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.http_server import live_server

LEDGER = str(Path(sys.executable).parent / "ledger")


def ledger(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")} | (env or {})
    return subprocess.run(
        [LEDGER, *args], capture_output=True, text=True, check=False, cwd=cwd, env=environment, timeout=120
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_rotation_keeps_old_checkpoints_verifiable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    where = ["--data-dir", str(data_dir)]
    _ok(ledger("init", *where, cwd=tmp_path))
    _ok(ledger("demo", *where, cwd=tmp_path))
    before = int(_ok(ledger("seal", *where, cwd=tmp_path)).splitlines()[1])
    old_vkey = _ok(ledger("checkpoint", "vkey", *where, cwd=tmp_path)).strip()
    old_proof = tmp_path / "old.json"
    _ok(ledger("proof", "inclusion", "0", "--out", str(old_proof), *where, cwd=tmp_path))

    rotated = json.loads(_ok(ledger("keys", "rotate", *where, cwd=tmp_path)))
    new_vkey = rotated["vkey"]
    assert rotated["replaced"] == old_vkey
    assert rotated["previous"] == [old_vkey]
    assert new_vkey != old_vkey
    assert new_vkey.split("+")[0] == old_vkey.split("+")[0]  # the origin (key name) never changes
    assert _ok(ledger("checkpoint", "vkey", *where, cwd=tmp_path)).strip() == new_vkey
    assert (data_dir / "checkpoint.key").stat().st_mode & 0o777 == 0o600

    _ok(ledger("demo", *where, cwd=tmp_path))
    after = int(_ok(ledger("seal", *where, cwd=tmp_path)).splitlines()[1])
    assert after > before
    assert _ok(ledger("verify", *where, cwd=tmp_path))  # every checkpoint, each with its own key

    # Before the rotation: the old key verifies, the new one alone does not, both together do.
    _ok(ledger("proof", "verify", str(old_proof), "--vkey", old_vkey, cwd=tmp_path))
    refused = ledger("proof", "verify", str(old_proof), "--vkey", new_vkey, cwd=tmp_path)
    assert refused.returncode == 1
    _ok(ledger("audit", "verify", str(old_proof), "--vkey", new_vkey, "--vkey", old_vkey, cwd=tmp_path))
    # Across the rotation: a consistency proof from an old-key checkpoint to a new-key one.
    spanning = tmp_path / "consistency.json"
    _ok(ledger("proof", "consistency", str(before), str(after), "--out", str(spanning), *where, cwd=tmp_path))
    _ok(ledger("audit", "verify", str(spanning), "--vkey", new_vkey, "--vkey", old_vkey, cwd=tmp_path))
    # After: the new key.
    bundle = tmp_path / "bundle.json"
    _ok(ledger("export", *where, "--partner", "demo_partner", "--out", str(bundle), cwd=tmp_path))
    _ok(ledger("audit", "verify", str(bundle), "--vkey", new_vkey, cwd=tmp_path))

    with live_server(data_dir) as server:
        client = server.client(server.create_partner("auditor"))
        assert client.public_keys() == [new_vkey, old_vkey]
        assert client.public_key() == new_vkey

    again = json.loads(_ok(ledger("keys", "rotate", *where, cwd=tmp_path)))
    assert again["previous"] == [old_vkey, new_vkey]  # oldest first in the file
    with live_server(data_dir) as server:
        listed = server.client(server.create_partner("auditor_2")).public_keys()
    assert listed == [again["vkey"], new_vkey, old_vkey]  # current, then newest first


def test_the_signing_key_can_come_from_a_file_descriptor(tmp_path: Path) -> None:
    """Keys apart from data: LEDGER_SIGNING_KEY_FILE=/dev/fd/N (a secret handed over a pipe, never on disk)."""
    _ok(ledger("init", "--data-dir", str(tmp_path / "data"), cwd=tmp_path))
    secret = (tmp_path / "data" / "checkpoint.key").read_bytes()
    expected = _ok(ledger("checkpoint", "vkey", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)).strip()
    (tmp_path / "data" / "checkpoint.key").unlink()
    read, write = os.pipe()
    os.write(write, secret)
    os.close(write)
    try:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        environment["LEDGER_SIGNING_KEY_FILE"] = f"/dev/fd/{read}"
        result = subprocess.run(
            [LEDGER, "checkpoint", "vkey", "--data-dir", str(tmp_path / "data")],
            capture_output=True,
            text=True,
            check=False,
            env=environment,
            pass_fds=(read,),
            timeout=120,
        )
    finally:
        os.close(read)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_key_and_witness_commands_fail_in_one_line(tmp_path: Path) -> None:
    missing = ledger("keys", "rotate", "--data-dir", str(tmp_path / "nothing"), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("VALIDATION_ERROR: signing key ")
    assert "does not exist" in missing.stderr
    key = tmp_path / "witness.key"
    _ok(ledger("witness", "init", "--name", "witness.test/w1", "--key", str(key), cwd=tmp_path))
    again = ledger("witness", "init", "--name", "witness.test/w1", "--key", str(key), cwd=tmp_path)
    assert (again.returncode, again.stderr.split(":")[0]) == (2, "KEY_EXISTS")
    bad_log = ledger(
        "witness", "serve", "--key", str(key), "--state-dir", str(tmp_path / "s"), "--log", "nope+1", cwd=tmp_path
    )
    assert (bad_log.returncode, bad_log.stderr.split(":")[0]) == (2, "USAGE_ERROR")
    bad_witness = ledger("audit", "verify", str(key), "--witness", "not-a-key+00+AA", cwd=tmp_path)
    assert (bad_witness.returncode, bad_witness.stderr.split(":")[0]) == (2, "USAGE_ERROR")
    for result in (missing, again, bad_log, bad_witness):
        assert result.stderr.count("\n") == 1  # one line, no traceback
