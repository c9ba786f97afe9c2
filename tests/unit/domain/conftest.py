"""Fixtures for the domain unit tests."""

from __future__ import annotations

import pytest

from ledger_core.members.privacy import PersonalDataVault

from .fakes import FakeApp, FixedClock, InMemoryKeyStore


@pytest.fixture
def key_store() -> InMemoryKeyStore:
    return InMemoryKeyStore()


@pytest.fixture
def vault(key_store: InMemoryKeyStore) -> PersonalDataVault:
    return PersonalDataVault(key_store)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def app() -> FakeApp:
    return FakeApp()
