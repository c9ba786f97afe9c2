"""What the workers receive: the store protocols of ``adapters``, implemented once per backend.

The workers (``adapters/workers/``: the sealer runner, seal waiters, the webhook projector and
dispatcher, outcome recovery) are written against these protocols and never import a backend; the
composition (:mod:`adapters.storage`, :mod:`adapters.opening`, the API's runtime) hands them the stores.

* :class:`HeadWatch`: sizes a database announces (PostgreSQL ``LISTEN``), a **hint** of when to look.
* :class:`ManagedTreeStore`: the engine's tree store with sealer leadership, a watch and a lifetime.
* :class:`LogRows`: every read of the log a backend's log module offers (the engine's ``LogReader`` and more).
* :class:`CheckpointReads`: the reads of signed checkpoints a backend's tree module offers.
* :class:`KeyWrapping`: what key stores need of the master key (:class:`adapters.files.master_key.KeyWrapper`).
* :class:`ManagedKeyStore`, :class:`ManagedOutcomeStore`: the business stores with a lifetime.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from ledger_core.accounts.ports import OneTimeStore, SessionStore
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.errors import LedgerError
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.engine.ports import LogReader, PartnerLogReader, TreeStore
from ledger_core.members.outcomes import OutcomeStore
from ledger_core.members.ports import KeyStore
from ledger_core.partners.ports import ThemeAssetStore

FALLBACK_SECONDS = 1.0
"""Followers that use announcements still read the database themselves at least this often."""


class Head(StrEnum):
    """The two sizes followers watch: the log's (entries written) and the signed tree's (entries sealed)."""

    LOG = "log"
    CHECKPOINT = "checkpoint"


class HeadWatch(Protocol):
    """The latest announced size per head, kept up to date by the database (PostgreSQL notifications).

    Contract: a head is a **hint**. An announcement may come from another ledger sharing the database,
    and a broken connection goes unnoticed until the next read. Callers only use a head to decide
    *whether to look*, correct it with :meth:`correct` when a real read disagrees, and still look by
    themselves every :data:`FALLBACK_SECONDS`. Correctness never depends on an announcement arriving.
    """

    def head(self, which: Head) -> int | None:
        """The highest size announced (or read) for ``which``; None while not connected."""
        ...

    def generation(self) -> int:
        """A counter bumped by every size learned (announced or observed, higher or not) and every correction:
        read before a real read, for :meth:`correct` (so a correction never undoes a newer announcement)."""
        ...

    def wait(self, which: Head, beyond: int, timeout: float) -> int | None:
        """Block until ``which`` exceeds ``beyond`` or ``timeout`` passes; the head then (None: not connected)."""
        ...

    def wait_any(self, beyond: Mapping[Head, int], timeout: float) -> None:
        """Block until any head exceeds its value in ``beyond``, ``timeout`` passes, or the watch disconnects."""
        ...

    def connected(self) -> bool: ...

    def observe(self, which: Head, size: int) -> None:
        """A size learned otherwise (e.g. this process's own commit): raise the head to it."""
        ...

    def correct(self, sizes: Mapping[Head, int], since_generation: int) -> None:
        """A real read (started at ``since_generation``) found ``sizes``: each head becomes the larger of the size
        read and the sizes learned since the read began (none missed by the read is lost, an older foreign one is)."""
        ...

    def subscribe(self, which: Head, callback: Callable[[int], None]) -> None:
        """Call ``callback`` (quick, never raising) with every size announced for ``which``."""
        ...

    def close(self) -> None: ...


class ManagedTreeStore(TreeStore, Protocol):
    """A :class:`~ledger_core.engine.ports.TreeStore` with sealer leadership and a lifetime."""

    def try_acquire_leadership(self) -> bool:
        """Become the one sealer (PostgreSQL: session advisory lock); True when held."""
        ...

    def holds_leadership(self) -> bool:
        """Whether leadership is still held (False once the lock's connection is gone)."""
        ...

    def release_leadership(self) -> None: ...

    def update_checkpoint_note(self, size: int, expected: str, note: str) -> bool:
        """Replace checkpoint ``size``'s note if it is still ``expected`` (witness cosignature lines appended to
        the log's signature; the signed text never changes); False if it changed meanwhile or is gone."""
        ...

    def watch(self, log: bool = True) -> HeadWatch | None:
        """Checkpoint (and, with ``log``, log) sizes announced by the database (PostgreSQL notifications), or
        None where the database announces nothing (SQLite): followers then poll."""
        ...

    def close(self) -> None: ...


class LogRows(LogReader, PartnerLogReader, Protocol):
    """Every read of the log that a backend's log module offers (the only module that queries the log)."""

    def aggregate_rows(
        self, aggregate_id: str, *, gt: int | None, lte: int | None, desc: bool, limit: int | None
    ) -> Sequence[StoredRow]:
        """One aggregate's rows with ``gt < version <= lte`` in version order (``desc``: newest first)."""
        ...

    def aggregate_rows_before(self, aggregate_id: str, position: int) -> Sequence[StoredRow]:
        """One aggregate's rows below ``position``, in version order (the context a webhook may need)."""
        ...

    def rows_of_types(self, start: int, stop: int, types: Sequence[str]) -> Sequence[StoredRow]:
        """The rows of positions ``[start, stop)`` whose type is one of ``types``, in order."""
        ...

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        """Stored leaf hashes of positions ``[start, stop)``, in order."""
        ...

    def existing_aggregates(self, aggregate_ids: Sequence[str]) -> set[str]:
        """Which of ``aggregate_ids`` have an entry (:class:`ledger_core.members.feeds.ports.FeedLogReader`)."""
        ...

    def rows_of_aggregates(self, aggregate_ids: Sequence[str]) -> Sequence[StoredRow]:
        """Every row of ``aggregate_ids``, in position order (:class:`ledger_core.engine.ports.AggregateRowsReader`)."""
        ...

    def entries_of_aggregates(self, aggregate_ids: Sequence[str]) -> Sequence[tuple[str, str, bytes]]:
        """``(aggregate id, type, entry)`` of ``aggregate_ids``' rows, grouped by aggregate in version order."""
        ...

    def partner_aggregates_of_type(
        self, partner_id: str, event_type: str, *, start: int, stop: int, limit: int
    ) -> Sequence[tuple[int, str]]:
        """``(position, aggregate id)`` of one partner's rows of one type in ``[start, stop)``, in order."""
        ...


class CheckpointReads(Protocol):
    """The reads of signed checkpoints that a backend's tree module offers (the only module that queries them)."""

    def integrated_size(self) -> int: ...

    def latest_checkpoint(self) -> CheckpointRecord | None: ...

    def has_checkpoints(self) -> bool:
        """Whether the tree's tables exist (a ledger that never sealed may not have them)."""
        ...


def new_subject_key() -> tuple[str, bytes]:
    """A fresh per-subject data key: ``(key id, 32 random bytes)``, for every key store backend (see
    :func:`new_subject_keys`)."""
    return new_subject_keys(1)[0]


_RANDOM_BITS = 74
"""A version-7 UUID's random bits (RFC 9562 §5.7): 12 of ``rand_a`` and 62 of ``rand_b``."""


def _uuid7(unix_ms: int, random: int) -> int:
    """The version-7 UUID (RFC 9562 §5.7) of a Unix time in milliseconds and 74 random bits."""
    rand_a, rand_b = random >> 62, random & ((1 << 62) - 1)
    return (unix_ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b


def new_subject_keys(count: int) -> list[tuple[str, bytes]]:
    """``count`` fresh per-subject data keys from ONE read of the OS's CSPRNG (the bulk path creates a
    batch's keys at once): each ``(key id, 32 random bytes)``.

    The key id is ``k_`` and the hex of a version-7 UUID (RFC 9562 §5.7: 48 bits of Unix time in ms, then
    74 random bits), so key ids are created in time order: a key store's index on them grows at its right
    edge instead of at random pages (on SQLite a random index over a million keys cost the bulk path more
    than sealing itself). The time says when the key was made, as the log entry that uses it does."""
    unix_ms = time.time_ns() // 1_000_000
    pool = os.urandom(42 * count)  # 10 bytes (74 of their bits) for the id, 32 for the key
    keys = []
    for start in range(0, 42 * count, 42):
        random = int.from_bytes(pool[start : start + 10], "big") >> (80 - _RANDOM_BITS)
        keys.append((f"k_{_uuid7(unix_ms, random):032x}", pool[start + 10 : start + 42]))
    return keys


class KeyWrapping(Protocol):
    """Wraps and unwraps subject keys under the master key; the key id is the AAD.

    ``fingerprint`` identifies the master key without revealing it; key stores record it at first open
    and refuse another key (:class:`MasterKeyMismatch`). ``unwrap`` raises :class:`MasterKeyMismatch`
    when the wrapped key was not wrapped by this master key.
    """

    @property
    def fingerprint(self) -> str: ...

    def wrap(self, key_id: str, key: bytes) -> bytes: ...

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes: ...


class MasterKeyMismatch(LedgerError):
    """The master key given is not the one this ledger's subject keys are wrapped with."""

    code = "MASTER_KEY_MISMATCH"

    def __init__(self, given: str, recorded: str | None) -> None:
        seen = f"this ledger's is {recorded[:16]}" if recorded else "this ledger's keys do not unwrap with it"
        super().__init__(
            f"wrong master key: its fingerprint is {given[:16]}, {seen}"
            " (set LEDGER_MASTER_KEY or LEDGER_MASTER_KEY_FILE, or use the data directory that holds master.key)",
            given=given,
            recorded=recorded,
        )


class ManagedKeyStore(KeyStore, Protocol):
    """A :class:`~ledger_core.members.ports.KeyStore` with a lifetime."""

    def committed(self) -> None:
        """Return once every key this store has handed out is committed; raise the failure of a commit that
        failed. A store that commits before each call returns has nothing to wait for."""
        ...

    def close(self) -> None: ...


class ManagedThemeAssets(ThemeAssetStore, Protocol):
    """A :class:`~ledger_core.partners.ports.ThemeAssetStore` with a lifetime."""

    def close(self) -> None: ...


class ManagedOutcomeStore(OutcomeStore, Protocol):
    """A :class:`~ledger_core.members.outcomes.OutcomeStore` with a lifetime."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SsoHealthRow:
    """Sign-in outcomes of one identity provider of a partner (``ledger sso status``); times in Unix seconds."""

    partner_id: str
    provider_id: str
    protocol: str
    successes: int
    failures: int
    last_success_at: float | None
    last_failure_at: float | None
    last_failure_reason: str | None

    @property
    def success_rate(self) -> float | None:
        """Successes over attempts (seed 001 section 7.3 target: above 0.99); None before any attempt."""
        total = self.successes + self.failures
        return None if total == 0 else self.successes / total


class SsoHealthStore(Protocol):
    """Counts every sign-in outcome per provider, shared by every worker (``sso_login_stats``)."""

    def record(
        self, partner_id: str, provider_id: str, protocol: str, succeeded: bool, reason: str | None, at: float
    ) -> None: ...

    def rows(self) -> list[SsoHealthRow]: ...

    def close(self) -> None: ...


class OidcTokenStore(Protocol):
    """The sealed refresh token an OIDC provider issued for an account (``sso_oidc_tokens``); bytes are opaque."""

    def put(self, account_id: str, provider_id: str, partner_id: str, sealed: bytes, at: float) -> None: ...

    def get(self, account_id: str, provider_id: str) -> bytes | None: ...

    def forget(self, account_id: str) -> int:
        """Delete every token of the account (deactivation); how many there were."""
        ...

    def close(self) -> None: ...


class ManagedSsoStore(SessionStore, OneTimeStore, Protocol):
    """Sign-in state (:class:`~ledger_core.accounts.ports.SessionStore` and ``OneTimeStore``) with a lifetime."""

    def purge(self, before: datetime) -> int: ...

    def close(self) -> None: ...
