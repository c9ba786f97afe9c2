"""Every ``ledger`` command fails in one line, ``CODE: message``, with its documented exit code (issue 19,
items 2 and 4): 1 verification failed, 2 usage or input error, 3 infrastructure unavailable. Never a
traceback; only ``init`` creates a ledger.

The per-command matrices run ``ledger`` in this process through the console script's own entry
(``api.cli.errors.run`` with ``api.cli.main.app``, support/cli_inprocess.py): a subprocess each would cost
the CLI's import every time. The real console script runs in subprocesses for one case of each exit code
(:func:`test_the_console_script_agrees_with_the_in_process_run` compares both, line for line), the failed
proof (exit 1), the missing schema and the top-level help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli_inprocess import ledger_in_process

LEDGER = str(Path(sys.executable).parent / "ledger")
UNREACHABLE = "postgresql://ledger@127.0.0.1:1/ledger?connect_timeout=2"

# Every command that reads or writes a ledger, with the arguments it needs (any values: they fail first).
DATABASE_COMMANDS: dict[str, list[str]] = {
    "verify": ["verify"],
    "stats": ["stats"],
    "demo": ["demo"],
    "log tail": ["log", "tail"],
    "seal": ["seal"],
    "sealer": ["sealer"],
    "checkpoint show": ["checkpoint", "show"],
    "proof inclusion": ["proof", "inclusion", "0", "--out", "p.json"],
    "proof consistency": ["proof", "consistency", "1", "2", "--out", "c.json"],
    "proof history": ["proof", "history", "some-claim", "--out", "h.json"],
    "export": ["export", "--partner", "acme", "--out", "b.json"],
    "partners create": ["partners", "create", "ACME"],
    "partners show": ["partners", "show", "acme"],
    "partners rotate-key": ["partners", "rotate-key", "acme"],
    "partners rotate-secret": ["partners", "rotate-secret", "acme"],
    "partners revoke-key": ["partners", "revoke-key", "acme", "k1"],
    "operators create": ["operators", "create", "Care Team"],
    "claims review": ["claims", "review", "CLM-1", "--decision", "verified", "--reviewer", "bob"],
    "claims explain": ["claims", "explain", "CLM-1"],
    "members erase": ["members", "erase", "acme", "M1"],
    "members eligibility": ["members", "eligibility", "acme", "M1"],
    "outcomes show": ["outcomes", "show", "acme", "--start", "2026-01-01", "--end", "2026-02-01"],
    "outcomes rebuild": ["outcomes", "rebuild"],
    "webhooks endpoints": ["webhooks", "endpoints", "acme"],
    "webhooks deliveries": ["webhooks", "deliveries", "acme", "ep1"],
    "webhooks delivery": ["webhooks", "delivery", "acme", "ep1", "1"],
    "webhooks resend": ["webhooks", "resend", "acme", "ep1", "1"],
    "webhooks replay": ["webhooks", "replay", "acme", "ep1", "--since-position", "0"],
    "webhooks status": ["webhooks", "status"],
    "webhooks run": ["webhooks", "run"],
}
UNAVAILABLE_ONLY = {"serve": ["serve", "--port", "0"]}  # serve creates a ledger on its first start


def ledger(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, in a subprocess, without the caller's ``LEDGER_*`` settings."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")} | (env or {})
    return subprocess.run(
        [LEDGER, *args], capture_output=True, text=True, check=False, cwd=cwd, env=environment, timeout=120
    )


def one_line(result: subprocess.CompletedProcess[str], code: str) -> str:
    """The single stderr line, checked to be ``CODE: message``; returns the message."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{code}: "), result.stderr
    return lines[0].removeprefix(f"{code}: ")


@pytest.mark.parametrize("command", sorted(DATABASE_COMMANDS))
def test_a_missing_ledger_is_refused_not_created(command: str, tmp_path: Path) -> None:
    """A mistyped data directory: exit 2 LEDGER_NOT_FOUND naming the path, and nothing is created."""
    missing = tmp_path / "no" / "such" / "dir"
    result = ledger_in_process(*DATABASE_COMMANDS[command], "--data-dir", str(missing), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert str(missing) in one_line(result, "LEDGER_NOT_FOUND")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("command", sorted(DATABASE_COMMANDS | UNAVAILABLE_ONLY))
def test_unreachable_postgresql_is_exit_3(command: str, tmp_path: Path) -> None:
    """PostgreSQL down: exit 3 DATABASE_UNAVAILABLE in one line (not 1, which means 'not intact')."""
    where = ["--data-dir", str(tmp_path), "--database-url", UNREACHABLE]
    result = ledger_in_process(*(DATABASE_COMMANDS | UNAVAILABLE_ONLY)[command], *where, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "127.0.0.1" in one_line(result, "DATABASE_UNAVAILABLE")


def test_a_search_path_naming_no_schema_is_a_clear_usage_error(postgres_server: str, tmp_path: Path) -> None:
    """``?options=-csearch_path=<missing>``: exit 2 DATABASE_SCHEMA_MISSING naming the path (not INTERNAL_ERROR)."""
    joiner = "&" if "?" in postgres_server else "?"
    url = f"{postgres_server}{joiner}options=-csearch_path%3Dno_such_schema_here"
    result = ledger("init", "--data-dir", str(tmp_path / "data"), "--database-url", url, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "no_such_schema_here" in one_line(result, "DATABASE_SCHEMA_MISSING")


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    """--data-dir /etc/passwd: a usage error for init and every other command alike."""
    for args in (["init"], ["verify"]):
        result = ledger_in_process(*args, "--data-dir", "/etc/passwd", cwd=tmp_path)
        assert result.returncode == 2
        assert "/etc/passwd" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.fixture
def initialised(tmp_path: Path) -> list[str]:
    where = ["--data-dir", str(tmp_path / "data")]
    made = ledger_in_process("init", *where, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    return where


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (["partners", "show", "nobody"], "NOT_FOUND", "partner 'nobody' not found"),
        (["partners", "rotate-secret", "nobody"], "NOT_FOUND", "partner 'nobody' not found"),
        (["webhooks", "endpoints", "nobody"], "NOT_FOUND", "partner 'nobody' not found"),
        (["export", "--partner", "nobody", "--out", "b.json"], "NOT_FOUND", "partner 'nobody' not found"),
        (["claims", "explain", "CLM-404"], "NOT_FOUND", "claim 'CLM-404' not found"),
        (["members", "erase", "acme", "M-404"], "MEMBER_NOT_FOUND", "'M-404'"),
        (["proof", "inclusion", "9999", "--out", "p.json"], "NOT_FOUND", "position 9999 does not exist"),
    ],
)
def test_not_found_names_what_the_user_typed(
    initialised: list[str], tmp_path: Path, args: list[str], code: str, named: str
) -> None:
    """Unknown ids are exit 2 and the message names the id as typed (never an internal UUID)."""
    result = ledger_in_process(*args, *initialised, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert named in one_line(result, code)
    assert not (tmp_path / "b.json").exists()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["verify", "--no-such-option"], "USAGE_ERROR"),
        (["proof", "inclusion", "not-a-number", "--out", "p.json"], "USAGE_ERROR"),
        (["proof", "verify", "missing.json", "--vkey", "hello"], "USAGE_ERROR"),
        (["proof", "verify", "missing.json", "--vkey", "a+00000000+AQ=="], "USAGE_ERROR"),
        (["audit", "verify", "missing.json"], "FILE_ERROR"),
        (["checkpoint", "vkey", "--signing-key", "missing.key"], "VALIDATION_ERROR"),
    ],
)
def test_usage_and_input_errors_are_exit_2(initialised: list[str], tmp_path: Path, args: list[str], code: str) -> None:
    """Bad options, missing files and malformed keys: exit 2, one line, the offending value named."""
    result = ledger_in_process(*args, *initialised, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    one_line(result, code)


def test_a_proof_that_does_not_verify_is_exit_1(tmp_path: Path) -> None:
    """A consistency document whose path is wrong: exit 1, PROOF_INVALID, the reason on stdout as JSON."""
    from proofs.bundle import ConsistencyProof
    from proofs.checkpoint import Checkpoint, signed_checkpoint
    from proofs.note import generate_signer

    signer = generate_signer("example.test/log")
    notes = [signed_checkpoint(Checkpoint("example.test/log", size, bytes([size]) * 32), signer) for size in (2, 3)]
    document = ConsistencyProof(2, 3, (b"\x07" * 32,), notes[0], notes[1]).to_json()
    (tmp_path / "c.json").write_text(json.dumps(document))
    result = ledger("proof", "verify", "c.json", "--vkey", signer.verifier().vkey, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    one_line(result, "PROOF_INVALID")
    assert json.loads(result.stdout)["valid"] is False


def test_help_is_plain_ordered_and_not_cut_when_piped(tmp_path: Path) -> None:
    """No <str>/<bool> type tags, setup commands first, long lines kept whole when stdout is a pipe."""
    top = ledger("--help", cwd=tmp_path)
    assert top.returncode == 0
    assert "<bool>" not in top.stdout
    assert "╭" not in top.stdout
    listed = [line.split()[0] for line in top.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert listed[:3] == ["init", "serve", "demo"]
    assert listed.index("verify") < listed.index("proof")
    assert "Create the data directory, the database schema, the checkpoint signing key and the SFTP" in top.stdout
    for command in (["proof", "verify"], ["partners", "create"], ["log", "tail"], ["serve"]):
        shown = ledger_in_process(*command, "--help", cwd=tmp_path).stdout
        assert "<str>" not in shown
        assert "<path>" not in shown
        assert "<bool>" not in shown
    assert any(len(line) > 80 for line in ledger("proof", "verify", "--help", cwd=tmp_path).stdout.splitlines())
    in_process = ledger_in_process("--help", cwd=tmp_path)
    assert (in_process.returncode, in_process.stdout) == (top.returncode, top.stdout)


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        (["verify", "--data-dir", "{tmp}/no/such/dir"], 2),
        (["verify", "--no-such-option"], 2),
        (["serve", "--port", "0", "--data-dir", "{tmp}", "--database-url", UNREACHABLE], 3),
    ],
)
def test_the_console_script_agrees_with_the_in_process_run(args: list[str], exit_code: int, tmp_path: Path) -> None:
    """The installed ``ledger`` and the in-process run the matrices use: same exit code, same one line."""
    filled = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    real, here = ledger(*filled, cwd=tmp_path), ledger_in_process(*filled, cwd=tmp_path)
    assert real.returncode == exit_code, real.stderr
    assert (here.returncode, here.stderr, here.stdout) == (real.returncode, real.stderr, real.stdout)
    assert "Traceback" not in real.stderr
    assert len(real.stderr.strip().splitlines()) == 1
