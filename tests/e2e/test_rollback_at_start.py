"""A clean rollback (the newest entries, tree rows and checkpoints deleted from the database) is detected
when the server or the sealer starts, against the checkpoint last published, kept beside the signing key
(issue 18, item 10): one line ``ROLLBACK_DETECTED: ...`` and exit code 5. Both backends, rows really deleted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.databases import execute

LEDGER = str(Path(sys.executable).parent / "ledger")


def ledger(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")} | (env or {})
    return subprocess.run(
        [LEDGER, *args], capture_output=True, text=True, check=False, cwd=cwd, env=environment, timeout=120
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _sealed_twice(where: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, int]:
    """init, demo, seal, demo, seal: two checkpoints; their sizes."""
    _ok(ledger("init", *where, cwd=cwd, env=env))
    sizes = []
    for _ in range(2):
        _ok(ledger("demo", *where, cwd=cwd, env=env))
        note = _ok(ledger("seal", *where, cwd=cwd, env=env))
        sizes.append(int(note.splitlines()[1]))
    return sizes[0], sizes[1]


def _roll_back(database_url: str, size: int) -> None:
    """Delete every entry, tree node and checkpoint beyond ``size``: the database looks like an old backup."""
    execute(database_url, "DELETE FROM checkpoints WHERE size > ?", (size,))
    for level, index, data in execute(database_url, "SELECT level, idx, data FROM merkle_tiles"):
        keep = min(256, max(0, (size >> (8 * level)) - 256 * index))  # the tile's width in a tree of `size`
        if keep == 0:
            execute(database_url, "DELETE FROM merkle_tiles WHERE level = ? AND idx = ?", (level, index))
        else:
            cut = bytes(data[: 32 * keep])
            execute(
                database_url,
                "UPDATE merkle_tiles SET width = ?, data = ? WHERE level = ? AND idx = ?",
                (keep, cut, level, index),
            )
    execute(database_url, "DELETE FROM ledger_log WHERE position >= ?", (size,))


def test_a_clean_rollback_stops_serve_sealer_and_seal(database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    where = ["--data-dir", str(data_dir), "--database-url", database_url]
    signing_key, master_key = str(data_dir / "checkpoint.key"), str(data_dir / "master.key")
    _ok(ledger("keys", "create", "--signing-key", signing_key, "--master-key", master_key, cwd=tmp_path))
    keys = {"LEDGER_SIGNING_KEY_FILE": signing_key, "LEDGER_MASTER_KEY_FILE": master_key}  # PostgreSQL: named
    first, second = _sealed_twice(where, tmp_path, keys)
    published = (data_dir / "checkpoint.key.published").read_text(encoding="utf-8")
    assert published.splitlines()[1] == str(second)  # the file holds the newest checkpoint published
    assert _ok(ledger("verify", *where, cwd=tmp_path, env=keys))

    _roll_back(database_url, first)
    assert ledger("verify", *where, cwd=tmp_path, env=keys).returncode == 0  # the database alone looks intact

    for command in (["serve", "--port", "0"], ["sealer"], ["seal"]):
        refused = ledger(*command, *where, cwd=tmp_path, env=keys)
        assert refused.returncode == 5, (command, refused.stdout, refused.stderr)
        line = refused.stderr.strip()
        assert "\n" not in line
        assert line.startswith("ROLLBACK_DETECTED: ")
        assert f"published checkpoint {second}" in line
        assert f"newest is {first}" in line
        assert "checkpoint.key.published" in line


def test_a_database_from_another_history_of_the_same_size_is_refused(tmp_path: Path) -> None:
    """Same size, another root (the published file from a fork): refused as well."""
    data_dir = tmp_path / "data"
    where = ["--data-dir", str(data_dir)]
    _ok(ledger("init", *where, cwd=tmp_path))
    _ok(ledger("demo", *where, cwd=tmp_path))
    _ok(ledger("seal", *where, cwd=tmp_path))
    fork = tmp_path / "fork"
    fork.mkdir()
    for name in ("checkpoint.key", "master.key"):
        (fork / name).write_bytes((data_dir / name).read_bytes())
    _ok(ledger("init", "--data-dir", str(fork), cwd=tmp_path))
    _ok(ledger("demo", "--data-dir", str(fork), cwd=tmp_path))
    _ok(ledger("seal", "--data-dir", str(fork), cwd=tmp_path))
    (data_dir / "checkpoint.key.published").write_bytes((fork / "checkpoint.key.published").read_bytes())
    refused = ledger("sealer", *where, cwd=tmp_path)
    assert refused.returncode == 5, refused.stderr
    assert refused.stderr.startswith("ROLLBACK_DETECTED: ")


def test_no_published_file_yet_starts(tmp_path: Path) -> None:
    """A ledger sealed before the file existed (file removed) starts, and the next seal writes the file."""
    data_dir = tmp_path / "data"
    where = ["--data-dir", str(data_dir)]
    _ok(ledger("init", *where, cwd=tmp_path))
    _ok(ledger("demo", *where, cwd=tmp_path))
    _ok(ledger("seal", *where, cwd=tmp_path))
    published = data_dir / "checkpoint.key.published"
    published.unlink()
    _ok(ledger("demo", *where, cwd=tmp_path))
    note = _ok(ledger("seal", *where, cwd=tmp_path))
    assert published.read_text(encoding="utf-8") == note
    assert ledger("verify", *where, cwd=tmp_path).returncode == 0
