"""Subject key stores on both backends: wrapped at rest, destroyed for good, never re-created."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.databases import execute

from adapters.files.master_key import KeyWrapper
from adapters.postgres.keys import PostgresKeyStore
from adapters.sqlite.keys import SQLiteKeyStore
from adapters.storage import StorageConfig
from ledger_core.members.errors import PersonalDataErased


def open_store(database_url: str, tmp_path: Path) -> SQLiteKeyStore | PostgresKeyStore:
    wrapper = KeyWrapper(b"\x07" * 32)
    config = StorageConfig(tmp_path, database_url)
    if config.backend == "postgresql":
        return PostgresKeyStore(database_url, wrapper)
    return SQLiteKeyStore(config.sqlite_path(), wrapper)


def test_keys_are_stable_wrapped_and_erasable(database_url: str, tmp_path: Path) -> None:
    """A subject keeps one key; it is stored wrapped; destroying it removes it and blocks a new one."""
    store = open_store(database_url, tmp_path)
    try:
        key_id, key = store.get_or_create("partner/member-1")
        assert store.get_or_create("partner/member-1") == (key_id, key)
        assert store.get(key_id) == key
        stored = execute(database_url, "SELECT wrapped FROM subject_keys WHERE key_id = ?", (key_id,))[0][0]
        assert key not in bytes(stored)  # wrapped under the master key, never raw
        assert store.destroy("partner/member-1") == 1
        assert store.get(key_id) is None
        with pytest.raises(PersonalDataErased):
            store.get_or_create("partner/member-1")
        assert store.get_or_create("partner/member-2")[0] != key_id
    finally:
        store.close()


def test_batch_keys_match_single_keys_and_skip_erased(database_url: str, tmp_path: Path) -> None:
    """get_or_create_many: existing keys returned as they are, missing ones created once, erased left out."""
    store = open_store(database_url, tmp_path)
    try:
        existing = store.get_or_create("partner/a")
        store.get_or_create("partner/gone")
        store.destroy("partner/gone")
        subjects = ["partner/a", "partner/gone", *(f"partner/n{i}" for i in range(450))]
        keys = store.get_or_create_many(subjects)
        assert "partner/gone" not in keys
        assert keys["partner/a"] == existing
        assert len(keys) == 451
        assert all(store.get_or_create(subject) == keys[subject] for subject in subjects if subject != "partner/gone")
        assert store.get_or_create_many(subjects) == keys
        assert store.get_or_create_many([]) == {}
    finally:
        store.close()
