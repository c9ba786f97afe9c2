"""The checkpoint signing key: created once with mode 0600, Go's PRIVATE+KEY+ form, name = origin."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from adapters.files.signing_key import (
    ORIGIN_ENV,
    SIGNING_KEY_ENV,
    create_signing_key,
    default_origin,
    ensure_signing_key,
    load_signing_key,
)
from ledger_core.engine.errors import InvalidCommand
from proofs import parse_vkey, public_key_to_raw


def test_created_in_the_data_dir_with_mode_0600(tmp_path: Path) -> None:
    """The first call creates checkpoint.key (0600, one PRIVATE+KEY+ line); later calls load the same key."""
    signer = ensure_signing_key(tmp_path / "data")
    path = tmp_path / "data" / "checkpoint.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith(f"PRIVATE+KEY+{signer.name}+")
    assert ensure_signing_key(tmp_path / "data").verifier().vkey == signer.verifier().vkey
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["checkpoint.key"]  # no temp file left


def test_default_origin_is_derived_from_the_key(tmp_path: Path) -> None:
    """proveniq-ledger/<16 hex of SHA-256(public key)>: stable for the key, distinct per ledger."""
    signer = ensure_signing_key(tmp_path)
    assert signer.name == default_origin(public_key_to_raw(signer.public_key))
    assert signer.name.startswith("proveniq-ledger/")
    assert len(signer.name) == 16 + 16


def test_vkey_is_the_c2sp_verifier_key(tmp_path: Path) -> None:
    """The printed vkey parses as a C2SP verifier key of the same name."""
    signer = ensure_signing_key(tmp_path, origin="ledger.example/prod")
    assert parse_vkey(signer.verifier().vkey).name == "ledger.example/prod"


def test_explicit_path_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--signing-key or LEDGER_SIGNING_KEY_FILE naming a missing file is an error, not a new key."""
    with pytest.raises(InvalidCommand, match="does not exist"):
        ensure_signing_key(tmp_path, tmp_path / "nope.key")
    monkeypatch.setenv(SIGNING_KEY_ENV, str(tmp_path / "env.key"))
    with pytest.raises(InvalidCommand, match="does not exist"):
        ensure_signing_key(tmp_path)
    created = create_signing_key(tmp_path / "env.key", "o/env")
    assert ensure_signing_key(tmp_path).name == created.name == "o/env"


def test_origin_cannot_be_changed_for_an_existing_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking for another origin than the key's name is refused (the origin is the key's name)."""
    ensure_signing_key(tmp_path, origin="first/origin")
    monkeypatch.setenv(ORIGIN_ENV, "second/origin")
    with pytest.raises(InvalidCommand, match="cannot change"):
        ensure_signing_key(tmp_path)


def test_never_overwrites(tmp_path: Path) -> None:
    """Creating over an existing key file fails; the existing key stays."""
    first = create_signing_key(tmp_path / "k")
    with pytest.raises(FileExistsError):
        create_signing_key(tmp_path / "k")
    assert load_signing_key(tmp_path / "k").verifier().vkey == first.verifier().vkey


def test_malformed_file(tmp_path: Path) -> None:
    """A file that is not a signer key is reported clearly."""
    (tmp_path / "bad.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    with pytest.raises(InvalidCommand, match="not a PRIVATE"):
        load_signing_key(tmp_path / "bad.key")
