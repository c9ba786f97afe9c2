"""Fixtures: an in-memory log, a stepping clock, and the verification service over them."""

from __future__ import annotations

import pytest

from ledger_core.claims.documents import DocumentService
from ledger_core.claims.verification import ClaimVerificationService

from .fakes import IndexFacts, MemoryLog, SteppingClock


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def log(clock: SteppingClock) -> MemoryLog:
    return MemoryLog(clock)


@pytest.fixture
def service(log: MemoryLog, clock: SteppingClock) -> ClaimVerificationService:
    return ClaimVerificationService(log, IndexFacts(log), clock)  # type: ignore[arg-type]


@pytest.fixture
def documents(log: MemoryLog) -> DocumentService:
    return DocumentService(log)  # type: ignore[arg-type]
