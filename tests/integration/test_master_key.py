"""The master key of a ledger opened by URL is explicit, and a wrong one is refused at open (issue 19, item 3)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from support.databases import execute, key_store_url

from adapters.files.master_key import MASTER_KEY_ENV, MASTER_KEY_FILE_ENV
from adapters.opening import open_ledger
from adapters.ports import MasterKeyMismatch
from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.member_record import EligibilityRecord

KEY = bytes(range(32))
RECORD = EligibilityRecord(
    partner_member_id="m-1",
    email="ada.quill@example.test",
    first_name="Ada",
    last_name="Quill",
    date_of_birth="1980-02-14",
    state="IA",
    policy_type="Life",
)


@pytest.fixture
def url(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ledger with one member's sealed data, written under KEY; the process runs in an empty directory."""
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    monkeypatch.delenv(MASTER_KEY_FILE_ENV, raising=False)
    if not database_url.startswith("postgres"):
        database_url = "sqlite:///" + str((tmp_path / "ledger.db").resolve())
    with open_ledger(database_url, master_key=KEY) as ledger:
        ledger.partners.register(partner_id="acme", name="ACME", category="tpa", tier="sandbox", scopes=["audit:read"])
        ledger.membership.upsert("acme", RECORD)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".ledger-data").mkdir(parents=True)
    (elsewhere / ".ledger-data" / "master.key").write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
    monkeypatch.chdir(elsewhere)  # a ./.ledger-data with another key must not be picked up
    return database_url


def test_a_url_without_a_key_is_refused(url: str) -> None:
    """open_ledger(url) alone names no key: a clear error, not the key of ./.ledger-data."""
    with pytest.raises(InvalidCommand, match="master key must be given"):
        open_ledger(url)


def test_the_key_from_the_environment_or_a_file_reads_the_data(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LEDGER_MASTER_KEY or LEDGER_MASTER_KEY_FILE opens the ledger from any directory; data reads back."""
    monkeypatch.setenv(MASTER_KEY_ENV, base64.b64encode(KEY).decode())
    with open_ledger(url) as ledger:
        assert ledger.members.reveal("acme", "m-1")["email"] == RECORD.email
    monkeypatch.delenv(MASTER_KEY_ENV)
    key_file = tmp_path / "secret.key"
    key_file.write_text(base64.b64encode(KEY).decode() + "\n")
    monkeypatch.setenv(MASTER_KEY_FILE_ENV, str(key_file))
    with open_ledger(url) as ledger:
        assert ledger.members.reveal("acme", "m-1")["first_name"] == "Ada"


def test_a_wrong_key_is_refused_at_open_by_its_fingerprint(url: str) -> None:
    """Another key: MasterKeyMismatch when opening, naming both fingerprints (no InvalidTag later)."""
    with pytest.raises(MasterKeyMismatch, match="wrong master key") as refused:
        open_ledger(url, master_key=os.urandom(32))
    assert refused.value.details["recorded"] is not None


def test_a_ledger_without_a_fingerprint_is_checked_on_its_keys(url: str) -> None:
    """A ledger written before fingerprints: a wrong key fails to unwrap a stored key and is refused; the
    right one is then recorded."""
    execute(key_store_url(url), "DELETE FROM master_key_fingerprint")
    with pytest.raises(MasterKeyMismatch):
        open_ledger(url, master_key=os.urandom(32))
    assert execute(key_store_url(url), "SELECT COUNT(*) FROM master_key_fingerprint")[0][0] == 0
    with open_ledger(url, master_key=KEY) as ledger:
        assert ledger.members.reveal("acme", "m-1")["last_name"] == "Quill"
    assert execute(key_store_url(url), "SELECT COUNT(*) FROM master_key_fingerprint")[0][0] == 1
