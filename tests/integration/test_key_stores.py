"""Subject key stores on both backends: wrapped at rest, destroyed for good, never re-created."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.databases import execute, key_store_url

from adapters.files.master_key import KeyWrapper
from adapters.ports import MasterKeyMismatch
from adapters.postgres.keys import PostgresKeyStore
from adapters.sqlite.keys import SQLiteKeyStore
from adapters.storage import StorageConfig, open_key_store
from ledger_core.members.errors import PersonalDataErased


def open_store(database_url: str, tmp_path: Path) -> SQLiteKeyStore | PostgresKeyStore:
    wrapper = KeyWrapper(b"\x07" * 32)
    config = StorageConfig(tmp_path, database_url)
    if config.backend == "postgresql":
        return PostgresKeyStore(database_url, wrapper)
    return SQLiteKeyStore(config.sqlite_keys_path(), wrapper)


def test_keys_are_stable_wrapped_and_erasable(database_url: str, tmp_path: Path) -> None:
    """A subject keeps one key; it is stored wrapped; destroying it removes it and blocks a new one."""
    store = open_store(database_url, tmp_path)
    try:
        key_id, key = store.get_or_create("partner/member-1")
        assert store.get_or_create("partner/member-1") == (key_id, key)
        assert store.get(key_id) == key
        stored = execute(key_store_url(database_url), "SELECT wrapped FROM subject_keys WHERE key_id = ?", (key_id,))[
            0
        ][0]
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
        keys, created = store.get_or_create_many(subjects)
        assert "partner/gone" not in keys
        assert keys["partner/a"] == existing
        assert len(keys) == 451
        assert created == {f"partner/n{i}" for i in range(450)}  # neither the existing key nor the erased subject
        assert all(store.get_or_create(subject) == keys[subject] for subject in subjects if subject != "partner/gone")
        assert store.get_or_create_many(subjects) == (keys, frozenset())  # the second call creates nothing
        assert store.get_or_create_many([]) == ({}, frozenset())
    finally:
        store.close()


def _legacy_keys(ledger: Path, wrapper: KeyWrapper) -> tuple[str, bytes]:
    """Keys as a ledger written before the key store had a file of its own kept them: in the ledger's file.
    Returns the live subject's key; ``partner/gone`` is erased."""
    old = SQLiteKeyStore(ledger, wrapper)
    try:
        live = old.get_or_create("partner/live")
        old.get_or_create("partner/gone")
        old.destroy("partner/gone")
        return live
    finally:
        old.close()


def _tables(path: Path) -> set[str]:
    found = execute(f"sqlite:///{path}", "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(row[0]) for row in found}


def test_sqlite_keys_in_the_ledger_file_move_to_their_own(tmp_path: Path) -> None:
    """Opening the key store of a ledger whose keys are in its own file moves them (keys, erasures and the
    master key's fingerprint) and drops them there; opening again changes nothing."""
    wrapper = KeyWrapper(b"\x07" * 32)
    config = StorageConfig(tmp_path, None)
    live = _legacy_keys(config.sqlite_path(), wrapper)
    for _ in range(2):
        store = open_key_store(config, wrapper)
        try:
            assert store.get_or_create("partner/live") == live
            with pytest.raises(PersonalDataErased):
                store.get_or_create("partner/gone")
        finally:
            store.close()
        assert not _tables(config.sqlite_path()) & {"subject_keys", "erased_subjects", "master_key_fingerprint"}
        assert _tables(config.sqlite_keys_path()) >= {"subject_keys", "erased_subjects", "master_key_fingerprint"}
    with pytest.raises(MasterKeyMismatch):
        open_key_store(config, KeyWrapper(b"\x08" * 32))


def test_an_interrupted_move_resumes_without_bringing_back_an_erased_key(tmp_path: Path) -> None:
    """A crash after the copy but before the drop: the next open copies again, but a key destroyed in the
    meantime in the new file stays destroyed (erasures are copied first and win)."""
    wrapper = KeyWrapper(b"\x07" * 32)
    config = StorageConfig(tmp_path, None)
    _legacy_keys(config.sqlite_path(), wrapper)
    copied = SQLiteKeyStore(config.sqlite_keys_path(), wrapper)  # the copy, as the move's first transaction
    try:
        for table in ("erased_subjects", "subject_keys", "master_key_fingerprint"):
            rows = execute(f"sqlite:///{config.sqlite_path()}", f"SELECT * FROM {table}")
            marks = ",".join("?" * len(rows[0]))
            for row in rows:
                execute(
                    key_store_url(f"sqlite:///{config.sqlite_path()}"),
                    f"INSERT OR IGNORE INTO {table} VALUES ({marks})",
                    row,
                )
        assert copied.destroy("partner/live") == 1  # erased after the copy, before the drop
    finally:
        copied.close()
    store = open_key_store(config, wrapper)
    try:
        with pytest.raises(PersonalDataErased):
            store.get_or_create("partner/live")
    finally:
        store.close()
    assert "subject_keys" not in _tables(config.sqlite_path())


class _FailingCommit:
    """A SQLite connection whose COMMIT fails (as a full disk's would); everything else goes through."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, *parameters: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.connection.execute(sql, *parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)


def test_a_store_that_commits_behind_has_stored_every_key_once_committed_returns(tmp_path: Path) -> None:
    """``commit_behind`` (the feed workers' key store): a batch's keys are handed out before their commit; once
    ``committed()`` returns another connection reads the same keys, and the store's own next call waits for it."""
    wrapper = KeyWrapper(b"\x07" * 32)
    path = StorageConfig(tmp_path).sqlite_keys_path()
    store = SQLiteKeyStore(path, wrapper, commit_behind=True)
    other = SQLiteKeyStore(path, wrapper)
    try:
        subjects = [f"partner/n{i}" for i in range(900)]
        keys, created = store.get_or_create_many(subjects)
        assert created == frozenset(subjects)
        store.committed()
        assert other.get_or_create_many(subjects) == (keys, frozenset())  # stored, and not created again
        more, _ = store.get_or_create_many(["partner/m0"])
        key_id, key = more["partner/m0"]
        assert store.get(key_id) == key  # waits for the commit in flight, then reads it
        assert other.get(key_id) == key
    finally:
        store.close()
        other.close()


def test_a_failed_commit_behind_is_raised_once_and_stores_none_of_its_keys(tmp_path: Path) -> None:
    """A commit that fails behind the caller is raised by ``committed()`` (once), and none of its keys is
    stored: nothing sealed under them may be kept. The store goes on working afterwards."""
    wrapper = KeyWrapper(b"\x07" * 32)
    path = StorageConfig(tmp_path).sqlite_keys_path()
    store = SQLiteKeyStore(path, wrapper, commit_behind=True)
    try:
        connection = store._conn
        store._conn = _FailingCommit(connection)  # type: ignore[assignment]
        lost, _ = store.get_or_create_many(["partner/x", "partner/y"])
        with pytest.raises(sqlite3.OperationalError, match="full"):
            store.committed()
        store._conn = connection
        store.committed()  # the failure was raised once
        assert execute(f"sqlite:///{path}", "SELECT count(*) FROM subject_keys")[0][0] == 0
        keys, created = store.get_or_create_many(["partner/x"])
        assert created == {"partner/x"}
        assert keys["partner/x"] != lost["partner/x"]
        store.committed()
        assert execute(f"sqlite:///{path}", "SELECT count(*) FROM subject_keys")[0][0] == 1
    finally:
        store.close()


def _counting(
    copy: Callable[[dict[str, tuple[str, bytes]]], None], copies: list[int]
) -> Callable[[dict[str, tuple[str, bytes]]], None]:
    """``copy`` (a store's ``_copy``), noting how many keys each call was given."""

    def counted(fresh: dict[str, tuple[str, bytes]]) -> None:
        copies.append(len(fresh))
        copy(fresh)

    return counted


def test_a_bulk_batch_goes_by_copy_and_a_key_stored_meanwhile_wins(postgres_url: str) -> None:
    """PostgreSQL: a batch of at least ``copy_min_keys`` new subjects is written by ``COPY``; when another
    process stores one of its subjects' keys between the batch's read and its ``COPY``, the ``COPY`` fails on the
    subject index, and the batch is done again the ``INSERT ... ON CONFLICT`` way: that subject gets the other
    process's key (not among ``created``), the others get theirs, and nothing is stored twice."""
    wrapper = KeyWrapper(b"\x07" * 32)
    store = PostgresKeyStore(postgres_url, wrapper)
    other = PostgresKeyStore(postgres_url, wrapper)
    read_keys, copy = store._read_keys, store._copy
    raced: list[tuple[str, bytes]] = []
    copies: list[int] = []

    def read_then_race(subjects: list[str]) -> dict[str, tuple[str, bytes]]:
        found = read_keys(subjects)
        if not raced:  # once: after the first read of the first attempt
            raced.append(other.get_or_create("partner/n7"))
        return found

    try:
        subjects = [f"partner/n{i}" for i in range(store.copy_min_keys * 2)]
        store._read_keys = read_then_race  # type: ignore[method-assign]
        store._copy = _counting(copy, copies)  # type: ignore[method-assign,assignment]
        keys, created = store.get_or_create_many(subjects)
        assert copies == [len(subjects)]  # the COPY was tried, failed, and not tried again
        assert keys["partner/n7"] == raced[0]
        assert created == frozenset(subjects) - {"partner/n7"}
        assert all(other.get_or_create(subject) == keys[subject] for subject in subjects)
        stored = execute(postgres_url, "SELECT count(*), count(DISTINCT subject) FROM subject_keys")[0]
        assert stored == (len(subjects), len(subjects))
    finally:
        store.close()
        other.close()


def test_a_bulk_batch_by_copy_stores_what_the_insert_stores(postgres_url: str) -> None:
    """The same batch call with and without ``COPY``: the same subjects created, the same keys read back."""
    wrapper = KeyWrapper(b"\x07" * 32)
    store = PostgresKeyStore(postgres_url, wrapper)
    try:
        copied = [f"partner/c{i}" for i in range(200)]
        inserted = [f"partner/i{i}" for i in range(200)]
        copies: list[int] = []
        store._copy = _counting(store._copy, copies)  # type: ignore[method-assign,assignment]
        by_copy = store.get_or_create_many(copied)
        store.copy_min_keys = 10**9  # never COPY
        by_insert = store.get_or_create_many(inserted)
        assert copies == [200]
        assert by_copy.created == frozenset(copied)
        assert by_insert.created == frozenset(inserted)
        assert store.get_or_create_many([*copied, *inserted]) == ({**by_copy.keys, **by_insert.keys}, frozenset())
        assert all(store.get(key_id) == key for key_id, key in by_copy.keys.values())
    finally:
        store.close()
