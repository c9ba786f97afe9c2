"""The claims-import tests' storage and ledger: one partner (``support.ledgers.CLAIMS_PARTNER``) with the
document ``PHOTO`` registered, on each backend (``database_url``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.ledgers import CLAIMS_NOW, CLAIMS_PARTNER, open_claims_ledger

from adapters.storage import StorageConfig
from ledger_core.ledger import Ledger


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> StorageConfig:
    return StorageConfig(tmp_path / "data", database_url)


@pytest.fixture
def ledger(config: StorageConfig) -> Iterator[Ledger]:
    opened = open_claims_ledger(config, CLAIMS_NOW, CLAIMS_PARTNER)
    yield opened
    opened.close()
