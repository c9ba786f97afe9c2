"""Fixtures for the audit unit tests: a log of real envelopes, a tree store in memory, a signing key."""

from __future__ import annotations

import pytest

from ledger_core.engine.sealing import Sealer, SealPolicy
from proofs.note import NoteSigner, generate_signer

from .fakes import MemoryLog, MemoryTreeStore, StepClock

ORIGIN = "proveniq-ledger/unit-test"


@pytest.fixture(scope="session")
def signer() -> NoteSigner:
    return generate_signer(ORIGIN)


@pytest.fixture
def log() -> MemoryLog:
    return MemoryLog()


@pytest.fixture
def store(log: MemoryLog) -> MemoryTreeStore:
    return MemoryTreeStore(log)


@pytest.fixture
def sealer(store: MemoryTreeStore, signer: NoteSigner) -> Sealer:
    return Sealer(store, signer, StepClock(), policy=SealPolicy(max_batch_entries=50, read_chunk=7))
