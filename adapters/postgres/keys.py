"""Subject data keys in the ledger's PostgreSQL database (``subject_keys``, ``erased_subjects``, and
``master_key_fingerprint``, the fingerprint of the master key that wraps them): the one
module that writes SQL for them on this backend. Implements :class:`ledger_core.members.ports.KeyStore`;
keys are wrapped by the master key (:class:`~adapters.ports.KeyWrapping`).

An erased subject is remembered (``erased_subjects``, the subject label only), so no new key can ever be
created for them: sealing after erasure raises :class:`~ledger_core.members.errors.PersonalDataErased`
instead of quietly starting a fresh identity. Destroying a subject's keys deletes the rows and vacuums the
table (dead tuples are otherwise kept until autovacuum). Backups and PostgreSQL's own WAL archive still
hold wrapped keys; they stay useless without the master key, which is why keys are wrapped at all.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg.errors

from adapters.ports import KeyWrapping, MasterKeyMismatch, new_subject_key, new_subject_keys
from adapters.postgres.connections import create_schema
from ledger_core.members.errors import PersonalDataErased
from ledger_core.members.ports import SubjectKeys

SCHEMA = """
CREATE TABLE IF NOT EXISTS subject_keys (
    key_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL UNIQUE,
    wrapped BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS erased_subjects (subject TEXT PRIMARY KEY, erased_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS master_key_fingerprint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
"""

COPY_KEYS = "COPY subject_keys (key_id, subject, wrapped) FROM STDIN (FORMAT BINARY)"
COPY_MIN_KEYS = 64
"""Missing keys from which :meth:`PostgresKeyStore.get_or_create_many` writes them by ``COPY``."""


class PostgresKeyStore:
    """Keys in the ledger's PostgreSQL database."""

    def __init__(self, conninfo: str, wrapper: KeyWrapping) -> None:
        self.copy_min_keys = COPY_MIN_KEYS
        """Missing keys from which a batch call writes them by ``COPY`` (:meth:`get_or_create_many`)."""
        self._wrapper = wrapper
        self._conninfo = conninfo
        self._lock = threading.Lock()
        create_schema(conninfo, SCHEMA)
        self._conn: psycopg.Connection[Any] = psycopg.connect(conninfo, autocommit=True)
        try:
            self._check_master_key()
        except MasterKeyMismatch:
            self._conn.close()
            raise

    def _check_master_key(self) -> None:
        """Refuse a master key other than the recorded one; record it on first open (after trying it on
        an existing wrapped key, for a ledger written before fingerprints were kept)."""
        given = self._wrapper.fingerprint
        row = self._conn.execute("SELECT fingerprint FROM master_key_fingerprint WHERE id = 1").fetchone()
        if row is not None:
            if row[0] != given:
                raise MasterKeyMismatch(given, row[0])
            return
        sample = self._conn.execute("SELECT key_id, wrapped FROM subject_keys LIMIT 1").fetchone()
        if sample is not None:
            self._wrapper.unwrap(sample[0], bytes(sample[1]))
        self._conn.execute(
            "INSERT INTO master_key_fingerprint (id, fingerprint, recorded_at) VALUES (1, %s, now())"
            " ON CONFLICT (id) DO NOTHING",
            (given,),
        )
        recorded = self._conn.execute("SELECT fingerprint FROM master_key_fingerprint WHERE id = 1").fetchone()
        if recorded is not None and recorded[0] != given:  # another process recorded a different key first
            raise MasterKeyMismatch(given, recorded[0])

    def get_or_create(self, subject: str) -> tuple[str, bytes]:
        with self._lock:
            if self._conn.execute("SELECT 1 FROM erased_subjects WHERE subject = %s", (subject,)).fetchone():
                raise PersonalDataErased(subject)
            key_id, key = new_subject_key()
            self._conn.execute(
                "INSERT INTO subject_keys (key_id, subject, wrapped) VALUES (%s, %s, %s)"
                " ON CONFLICT (subject) DO NOTHING",
                (key_id, subject, self._wrapper.wrap(key_id, key)),
            )
            row = self._conn.execute(
                "SELECT key_id, wrapped FROM subject_keys WHERE subject = %s", (subject,)
            ).fetchone()
        assert row is not None  # inserted or already present just above; not a business rule
        return row[0], self._wrapper.unwrap(row[0], bytes(row[1]))

    def get_or_create_many(self, subjects: Sequence[str]) -> SubjectKeys:
        """:meth:`get_or_create` for many subjects in one transaction; erased subjects are left out and get no
        key. Existing keys are read and unwrapped; the missing ones are created at once
        (:func:`new_subject_keys`), inserted in one statement and returned as created (a key another process
        inserted first, meanwhile, is read back instead, and is not among ``created``).

        When :attr:`copy_min_keys` or more are missing they are written with one binary ``COPY`` instead of
        ``INSERT ... ON CONFLICT`` (the transaction read them missing; the server's CPU per key falls by
        about a fifth: docs/performance.md); a key another process inserted meanwhile makes the ``COPY``
        fail on the subject index, and the call is made again the ``INSERT ... ON CONFLICT`` way."""
        if not subjects:
            return SubjectKeys({}, frozenset())
        with self._lock:
            try:
                return self._get_or_create_many(subjects, copying=True)
            except psycopg.errors.UniqueViolation:  # rolled back: another process stored one of them first
                return self._get_or_create_many(subjects, copying=False)

    def _get_or_create_many(self, subjects: Sequence[str], *, copying: bool) -> SubjectKeys:
        with self._conn.transaction():
            erased = {
                row[0]
                for row in self._conn.execute(
                    "SELECT subject FROM erased_subjects WHERE subject = ANY(%b::text[])", (list(subjects),)
                ).fetchall()
            }
            wanted = list(dict.fromkeys(subject for subject in subjects if subject not in erased))
            result = self._read_keys(wanted)
            missing = [subject for subject in wanted if subject not in result]
            fresh = dict(zip(missing, new_subject_keys(len(missing)), strict=True))
            if copying and len(missing) >= self.copy_min_keys:
                self._copy(fresh)
                result.update(fresh)
                return SubjectKeys(result, frozenset(missing))
            inserted = {
                row[0]
                for row in self._conn.execute(
                    "INSERT INTO subject_keys (key_id, subject, wrapped)"
                    " SELECT * FROM unnest(%b::text[], %b::text[], %b::bytea[])"
                    " ON CONFLICT (subject) DO NOTHING RETURNING subject",
                    (
                        [key_id for key_id, _ in fresh.values()],
                        list(fresh),
                        [self._wrapper.wrap(key_id, key) for key_id, key in fresh.values()],
                    ),
                ).fetchall()
            }
            result.update((subject, fresh[subject]) for subject in inserted)
            raced = [subject for subject in missing if subject not in inserted]
            if raced:
                result.update(self._read_keys(raced))
        return SubjectKeys(result, frozenset(inserted))

    def _copy(self, fresh: dict[str, tuple[str, bytes]]) -> None:
        """Write the ``subject -> (key id, key)`` of ``fresh``, wrapped, with one binary :data:`COPY_KEYS`."""
        with self._conn.cursor() as cursor, cursor.copy(COPY_KEYS) as copy:
            copy.set_types(["text", "text", "bytea"])
            for subject, (key_id, key) in fresh.items():
                copy.write_row((key_id, subject, self._wrapper.wrap(key_id, key)))

    def committed(self) -> None:
        """:class:`~adapters.ports.ManagedKeyStore`: every call here commits before it returns, so every key
        handed out is committed already."""

    def _read_keys(self, subjects: list[str]) -> dict[str, tuple[str, bytes]]:
        rows = self._conn.execute(
            "SELECT subject, key_id, wrapped FROM subject_keys WHERE subject = ANY(%b::text[])", (subjects,)
        ).fetchall()
        return {subject: (key_id, self._wrapper.unwrap(key_id, bytes(wrapped))) for subject, key_id, wrapped in rows}

    def get(self, key_id: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute("SELECT wrapped FROM subject_keys WHERE key_id = %s", (key_id,)).fetchone()
        return None if row is None else self._wrapper.unwrap(key_id, bytes(row[0]))

    def destroy(self, subject: str) -> int:
        with self._lock:
            with self._conn.transaction():
                count = self._conn.execute("DELETE FROM subject_keys WHERE subject = %s", (subject,)).rowcount
                self._conn.execute(
                    "INSERT INTO erased_subjects (subject, erased_at) VALUES (%s, now()) ON CONFLICT DO NOTHING",
                    (subject,),
                )
            self._conn.execute("VACUUM subject_keys")
        return int(count)

    def close(self) -> None:
        self._conn.close()
