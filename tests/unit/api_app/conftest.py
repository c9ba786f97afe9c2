"""A real embedded ledger in a temporary directory, with one partner and its credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.opening import open_ledger
from api.security.credentials import CredentialService, PartnerCredentials
from ledger_core.ledger import Ledger

DEPLOYMENT_SECRET = b"a unit-test deployment secret of 32+ bytes"


@pytest.fixture
def deployment_secret() -> bytes:
    """The deployment secret API secrets are derived from."""
    return DEPLOYMENT_SECRET


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """An empty SQLite ledger."""
    with open_ledger(tmp_path / "data") as opened:
        yield opened


@pytest.fixture
def credentials(ledger: Ledger, deployment_secret: bytes) -> CredentialService:
    """Partner credentials over the temporary ledger."""
    return CredentialService(ledger, deployment_secret)


@pytest.fixture
def acme(credentials: CredentialService) -> PartnerCredentials:
    """The partner ``acme`` with its freshly issued secrets."""
    return credentials.create_partner("acme", "ACME", tier="standard", category="insurance_carrier")
