"""Subject data keys in a SQLite file of their own beside the ledger's (``ledger.db`` -> ``ledger.keys.db``,
:func:`keys_file_of`; tables ``subject_keys``, ``erased_subjects``, and ``master_key_fingerprint``, the
fingerprint of the master key that wraps them): the one module that writes SQL for them on this backend.
Implements :class:`ledger_core.members.ports.KeyStore`; keys are wrapped by the master key
(:class:`~adapters.ports.KeyWrapping`).

An erased subject is remembered (``erased_subjects``, the subject label only), so no new key can ever be
created for them: sealing after erasure raises :class:`~ledger_core.members.errors.PersonalDataErased`
instead of quietly starting a fresh identity. Destroying a subject's keys deletes the rows and makes sure
the bytes do not linger: the connection runs with ``secure_delete`` and the WAL is truncated afterwards.
Backups still hold wrapped keys; they stay useless without the master key, which is why keys are wrapped.

Why a file of their own: SQLite has one writer per file, and a bulk load creates keys (in its preparation
workers) while it appends to the log (in the loading process); in one file each waited for the other's
transactions (docs/performance.md, "Bulk path, sixth pass"). A ledger written when the keys lived in the
ledger's file has them moved on first open (:meth:`SQLiteKeyStore._adopt_from`): copied, erasures first,
then dropped from the ledger's file; idempotent, and safe to resume after a crash at any point.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from adapters.ports import KeyWrapping, MasterKeyMismatch, new_subject_key, new_subject_keys
from adapters.sqlite.connections import private_database
from ledger_core.members.errors import PersonalDataErased
from ledger_core.members.ports import SubjectKeys

SCHEMA = """
CREATE TABLE IF NOT EXISTS subject_keys (
    key_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL UNIQUE,
    wrapped BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS erased_subjects (subject TEXT PRIMARY KEY, erased_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS master_key_fingerprint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
"""
_IN_CHUNK = 400
_TABLES = ("erased_subjects", "subject_keys", "master_key_fingerprint")


def keys_file_of(ledger: Path) -> Path:
    """The key store's file beside the ledger file ``ledger``: ``ledger.db`` -> ``ledger.keys.db`` (a name
    without a suffix gets ``.keys``). An in-memory database keeps its keys in itself."""
    if str(ledger) in ("", ":memory:") or str(ledger).startswith("file:"):
        return ledger
    if ledger.suffix:
        return ledger.with_suffix(f".keys{ledger.suffix}")
    return ledger.with_name(f"{ledger.name}.keys")


class SQLiteKeyStore:
    """Keys in a SQLite file of their own (:func:`keys_file_of` names it beside the ledger's)."""

    def __init__(
        self,
        path: Path,
        wrapper: KeyWrapping,
        *,
        cache_mib: int | None = None,
        checkpoint_pages: int | None = None,
        legacy: Path | None = None,
        commit_behind: bool = False,
    ) -> None:
        """``cache_mib``: this connection's page cache (SQLite's default, 2 MiB, when None). A bulk load's
        batches probe and extend the subject index at random pages: with a 1,000,000-key store a 16 MiB
        cache halved the key store's CPU per key (docs/performance.md). ``checkpoint_pages``: the WAL size at
        which this connection checkpoints (SQLite's default, 1,000 pages, when None). ``legacy``: the ledger's
        file, which may still hold keys from before they had a file of their own; they are moved here.

        ``commit_behind``: :meth:`get_or_create_many` returns its keys before its transaction has committed;
        the commit runs on a thread of this store (SQLite releases the GIL while it writes the WAL and syncs,
        so the caller's sealing goes on beside it) and :meth:`committed` waits for it. For a caller that
        keeps what it sealed to itself until :meth:`committed` returns (the eligibility feed's preparation
        workers: docs/performance.md); every other method waits for a commit in flight first."""
        self._wrapper = wrapper
        self._lock = threading.Lock()
        self._committer = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-keys-commit") if commit_behind else None
        )
        self._committing: Future[None] | None = None
        private_database(path)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        if cache_mib is not None:
            self._conn.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")  # negative: KiB (SQLite docs)
        if checkpoint_pages is not None:
            self._conn.execute(f"PRAGMA wal_autocheckpoint={int(checkpoint_pages)}")
        self._conn.executescript(SCHEMA)
        if legacy is not None and legacy != path and legacy.is_file():
            self._adopt_from(legacy)
        self._check_master_key()

    def _adopt_from(self, legacy: Path) -> None:
        """Move the key tables a ledger file ``legacy`` still holds into this file, then drop them there.

        One transaction here copies them (erased subjects first, and no key of an erased subject, so a
        re-run after a crash can never bring back a key destroyed since), a second one drops them from
        ``legacy`` (``secure_delete`` on, its WAL truncated). Existing rows win (``INSERT OR IGNORE``)."""
        self._conn.execute("ATTACH DATABASE ? AS legacy", (str(legacy),))
        try:
            present = {
                row[0]
                for row in self._conn.execute(
                    "SELECT name FROM legacy.sqlite_master WHERE type = 'table' AND name IN (?, ?, ?)", _TABLES
                )
            }
            if not present:
                return
            self._conn.execute("PRAGMA legacy.secure_delete=ON")
            with self._immediate():
                if "erased_subjects" in present:
                    self._conn.execute(
                        "INSERT OR IGNORE INTO main.erased_subjects SELECT * FROM legacy.erased_subjects"
                    )
                if "subject_keys" in present:
                    self._conn.execute(
                        "INSERT OR IGNORE INTO main.subject_keys SELECT * FROM legacy.subject_keys"
                        " WHERE subject NOT IN (SELECT subject FROM main.erased_subjects)"
                    )
                if "master_key_fingerprint" in present:
                    self._conn.execute(
                        "INSERT OR IGNORE INTO main.master_key_fingerprint SELECT * FROM legacy.master_key_fingerprint"
                    )
            with self._immediate():
                for table in sorted(present):
                    self._conn.execute(f"DROP TABLE IF EXISTS legacy.{table}")
            self._conn.execute("PRAGMA legacy.wal_checkpoint(TRUNCATE)")
        finally:
            self._conn.execute("DETACH DATABASE legacy")

    @contextmanager
    def _immediate(self, *, behind: bool = False) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``): committed if the block ends, rolled back if it raises.
        With ``behind`` on a store that commits behind, the ``COMMIT`` runs on the committer thread and the
        block's end does not wait for it (:meth:`committed` does)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        if behind and self._committer is not None:
            self._committing = self._committer.submit(self._commit)
        else:
            self._conn.execute("COMMIT")

    def _check_master_key(self) -> None:
        """Refuse a master key other than the recorded one; record it on first open (after trying it on
        an existing wrapped key, for a ledger written before fingerprints were kept)."""
        given = self._wrapper.fingerprint
        row = self._conn.execute("SELECT fingerprint FROM master_key_fingerprint WHERE id = 1").fetchone()
        if row is not None:
            if row[0] != given:
                self._conn.close()
                raise MasterKeyMismatch(given, row[0])
            return
        sample = self._conn.execute("SELECT key_id, wrapped FROM subject_keys LIMIT 1").fetchone()
        if sample is not None:
            try:
                self._wrapper.unwrap(sample[0], sample[1])
            except MasterKeyMismatch:
                self._conn.close()
                raise
        self._conn.execute(
            "INSERT OR IGNORE INTO master_key_fingerprint (id, fingerprint, recorded_at)"
            " VALUES (1, ?, datetime('now'))",
            (given,),
        )

    def get_or_create(self, subject: str) -> tuple[str, bytes]:
        with self._lock:
            self._settle()
            if self._conn.execute("SELECT 1 FROM erased_subjects WHERE subject = ?", (subject,)).fetchone():
                raise PersonalDataErased(subject)
            row = self._conn.execute(
                "SELECT key_id, wrapped FROM subject_keys WHERE subject = ?", (subject,)
            ).fetchone()
            if row is not None:
                return row[0], self._wrapper.unwrap(row[0], row[1])
            key_id, key = new_subject_key()
            self._conn.execute(
                "INSERT INTO subject_keys (key_id, subject, wrapped) VALUES (?, ?, ?)",
                (key_id, subject, self._wrapper.wrap(key_id, key)),
            )
            return key_id, key

    def get_or_create_many(self, subjects: Sequence[str]) -> SubjectKeys:
        """:meth:`get_or_create` for many subjects in one transaction; erased subjects are left out. The write
        lock is held from the reads to the inserts, so every key inserted here is one no other caller has."""
        result: dict[str, tuple[str, bytes]] = {}
        created: set[str] = set()
        with self._lock:
            self._settle()
            with self._immediate(behind=True):
                self._read_or_insert(subjects, result, created)
        return SubjectKeys(result, frozenset(created))

    def committed(self) -> None:
        """Return once the last :meth:`get_or_create_many`'s keys are committed (at once without
        ``commit_behind``: each call commits before it returns); raise its commit's failure, if it failed
        (then none of those keys is stored, and nothing sealed under them may be kept)."""
        with self._lock:
            self._settle()

    def _commit(self) -> None:
        """The transaction left open by :meth:`get_or_create_many`, committed (on the committer thread)."""
        try:
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def _settle(self) -> None:
        """Wait for a commit in flight (the caller holds the lock); its failure is raised here, once."""
        if self._committing is not None:
            pending, self._committing = self._committing, None
            pending.result()

    def _read_or_insert(self, subjects: Sequence[str], result: dict[str, tuple[str, bytes]], created: set[str]) -> None:
        """Inside a write transaction: read the subjects' keys into ``result`` and insert the missing ones
        (named in ``created``); erased subjects get none."""
        for start in range(0, len(subjects), _IN_CHUNK):
            chunk = list(subjects[start : start + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            erased = {
                row[0]
                for row in self._conn.execute(f"SELECT subject FROM erased_subjects WHERE subject IN ({marks})", chunk)
            }
            for subject, key_id, wrapped in self._conn.execute(
                f"SELECT subject, key_id, wrapped FROM subject_keys WHERE subject IN ({marks})", chunk
            ):
                result[subject] = (key_id, self._wrapper.unwrap(key_id, wrapped))
            missing = [subject for subject in chunk if subject not in result and subject not in erased]
            fresh = []
            for subject, (key_id, key) in zip(missing, new_subject_keys(len(missing)), strict=True):
                result[subject] = (key_id, key)
                fresh.append((key_id, subject, self._wrapper.wrap(key_id, key)))
            self._conn.executemany("INSERT INTO subject_keys (key_id, subject, wrapped) VALUES (?, ?, ?)", fresh)
            created.update(missing)

    def get(self, key_id: str) -> bytes | None:
        with self._lock:
            self._settle()
            row = self._conn.execute("SELECT wrapped FROM subject_keys WHERE key_id = ?", (key_id,)).fetchone()
        return None if row is None else self._wrapper.unwrap(key_id, row[0])

    def destroy(self, subject: str) -> int:
        with self._lock:
            self._settle()
            with self._immediate():
                count = self._conn.execute("DELETE FROM subject_keys WHERE subject = ?", (subject,)).rowcount
                self._conn.execute(
                    "INSERT OR IGNORE INTO erased_subjects (subject, erased_at) VALUES (?, datetime('now'))", (subject,)
                )
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(count)

    def close(self) -> None:
        """Close the connection, after a commit in flight (whose failure is raised after closing)."""
        try:
            with self._lock:
                self._settle()
        finally:
            if self._committer is not None:
                self._committer.shutdown()
            self._conn.close()
