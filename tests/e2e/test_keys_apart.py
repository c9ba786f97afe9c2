"""Keys apart from data on PostgreSQL (issue 18, item 11), through the command line and a live server.

A PostgreSQL deployment never takes its checkpoint signing key or master key from the data directory by
default: ``ledger serve`` and ``ledger sealer`` refuse to start (``KEYS_NOT_CONFIGURED``, exit 2) naming
the options; with keys in a secrets directory (``/run/secrets``-style) or handed over a file descriptor
the server runs, nothing secret appears in the data directory, ``ledger keys rotate`` on the secrets
file keeps old checkpoints verifiable, and a server given the wrong master key refuses at start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.http_server import claim_body, live_server

from api.security.credentials import PartnerCredentials

LEDGER = str(Path(sys.executable).parent / "ledger")
SECRET_NAMES = ("checkpoint.key", "master.key")


def ledger(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")} | (env or {})
    return subprocess.run(
        [LEDGER, *args], capture_output=True, text=True, check=False, cwd=cwd, env=environment, timeout=120
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _secrets(tmp_path: Path) -> dict[str, str]:
    """A secrets directory outside the data directory (a Kubernetes Secret volume, systemd credentials)."""
    secrets = tmp_path / "run-secrets" / "ledger"
    signing_key, master_key = secrets / "checkpoint.key", secrets / "master.key"
    created = json.loads(
        _ok(ledger("keys", "create", "--signing-key", str(signing_key), "--master-key", str(master_key), cwd=tmp_path))
    )
    assert created["signingKey"] == str(signing_key)
    assert signing_key.stat().st_mode & 0o777 == 0o600
    assert master_key.stat().st_mode & 0o777 == 0o600
    return {"LEDGER_SIGNING_KEY_FILE": str(signing_key), "LEDGER_MASTER_KEY_FILE": str(master_key)}


def _partner(where: list[str], env: dict[str, str], cwd: Path, name: str) -> PartnerCredentials:
    """``ledger partners create`` with the server's keys (the test process holds none)."""
    made = json.loads(_ok(ledger("partners", "create", name, *where, cwd=cwd, env=env)))
    return PartnerCredentials(
        made["partnerId"], made["clientId"], made["clientSecret"], made["apiKey"], made["apiSecret"],
        made["tier"], tuple(made["scopes"]),
    )  # fmt: skip


def test_postgres_refuses_to_start_without_named_keys(postgres_url: str, tmp_path: Path) -> None:
    where = ["--data-dir", str(tmp_path / "data"), "--database-url", postgres_url]
    _ok(ledger("init", *where, cwd=tmp_path))  # a ledger whose keys sit in its data directory (the old default)

    served = ledger("serve", "--port", "0", *where, cwd=tmp_path)
    assert served.returncode == 2, served.stderr
    line = served.stderr.strip()
    assert "\n" not in line
    assert line.startswith("KEYS_NOT_CONFIGURED: ")
    for option in ("--signing-key", "LEDGER_SIGNING_KEY_FILE", "LEDGER_SIGNING_KEY_FD", "LEDGER_MASTER_KEY_FILE"):
        assert option in line
    assert "LEDGER_MASTER_KEY_FD" in line

    sealer = ledger("sealer", *where, cwd=tmp_path)  # the sealer signs, and never unwraps member keys
    assert sealer.returncode == 2, sealer.stderr
    assert sealer.stderr.startswith("KEYS_NOT_CONFIGURED: ")
    assert "LEDGER_SIGNING_KEY_FD" in sealer.stderr
    assert "master key" not in sealer.stderr

    api_only = ledger("serve", "--port", "0", "--no-embedded-sealer", *where, cwd=tmp_path)  # no signing here
    assert api_only.returncode == 2
    assert "master key" in api_only.stderr
    assert "signing key" not in api_only.stderr


def test_keys_from_a_secrets_directory_rotate_and_a_wrong_master_key(postgres_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    where = ["--data-dir", str(data_dir), "--database-url", postgres_url]
    keys = _secrets(tmp_path)
    _ok(ledger("init", *where, cwd=tmp_path, env=keys))
    credentials = _partner(where, keys, tmp_path, "Keys Apart Insurance")

    with live_server(data_dir, postgres_url, extra_env=keys) as server:
        client = server.client(credentials)
        first = client.submit_claim(claim_body("CLM-KEYS-1"))
        assert first.proof is not None
        old_vkey = client.public_key()
    assert not [name for name in SECRET_NAMES if (data_dir / name).exists()]  # nothing secret beside the data
    assert Path(keys["LEDGER_SIGNING_KEY_FILE"] + ".published").is_file()  # the rollback guard, beside the key

    rotated = json.loads(_ok(ledger("keys", "rotate", "--signing-key", keys["LEDGER_SIGNING_KEY_FILE"], cwd=tmp_path)))
    assert rotated["replaced"] == old_vkey
    with live_server(data_dir, postgres_url, extra_env=keys) as server:
        client = server.client(credentials)
        second = client.submit_claim(claim_body("CLM-KEYS-2"))
        assert second.proof is not None
        assert client.public_keys() == [rotated["vkey"], old_vkey]
    verified = json.loads(_ok(ledger("verify", *where, cwd=tmp_path, env=keys)))
    assert verified["tree"]["signaturesChecked"] is True  # checkpoints of both keys, each with its own
    assert verified["tree"]["checkpoints"] >= 2

    wrong = tmp_path / "other-master.key"
    _ok(ledger("keys", "create", "--master-key", str(wrong), cwd=tmp_path))
    refused = ledger("serve", "--port", "0", *where, cwd=tmp_path, env=keys | {"LEDGER_MASTER_KEY_FILE": str(wrong)})
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("MASTER_KEY_MISMATCH: ")
    assert refused.stderr.count("\n") == 1


def test_keys_handed_over_file_descriptors(postgres_url: str, tmp_path: Path) -> None:
    """LEDGER_SIGNING_KEY_FD / LEDGER_MASTER_KEY_FD: the keys reach the server through pipes, read once."""
    data_dir = tmp_path / "data"
    where = ["--data-dir", str(data_dir), "--database-url", postgres_url]
    keys = _secrets(tmp_path)
    _ok(ledger("init", *where, cwd=tmp_path, env=keys))
    credentials = _partner(where, keys, tmp_path, "Descriptor Insurance")
    vkey = _ok(ledger("checkpoint", "vkey", "--signing-key", keys["LEDGER_SIGNING_KEY_FILE"], cwd=tmp_path)).strip()
    descriptors: list[int] = []
    env: dict[str, str] = {}
    for variable, source in (
        ("LEDGER_SIGNING_KEY_FD", "LEDGER_SIGNING_KEY_FILE"),
        ("LEDGER_MASTER_KEY_FD", "LEDGER_MASTER_KEY_FILE"),
    ):
        read, write = os.pipe()
        os.write(write, Path(keys[source]).read_bytes())
        os.close(write)
        descriptors.append(read)
        env[variable] = str(read)
    try:
        with live_server(data_dir, postgres_url, extra_env=env, pass_fds=descriptors) as server:
            client = server.client(credentials)
            result = client.submit_claim(claim_body("CLM-FD-1"))
            assert result.proof is not None
            assert client.public_key() == vkey  # the key read once at start still publishes its vkey
    finally:
        for descriptor in descriptors:
            os.close(descriptor)
    assert not [name for name in SECRET_NAMES if (data_dir / name).exists()]
