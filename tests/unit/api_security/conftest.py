"""Fixtures for the security building blocks: a token issuer on a session key."""

from __future__ import annotations

import pytest

from api.security.tokens import TokenIssuer, generate_signing_key

from .helpers import AUDIENCE, ISSUER


@pytest.fixture(scope="session")
def signing_key_pem() -> bytes:
    """One Ed25519 key for the whole session."""
    return generate_signing_key()


@pytest.fixture
def issuer(signing_key_pem: bytes) -> TokenIssuer:
    """An issuer for ``ISSUER``/``AUDIENCE`` with the session key."""
    return TokenIssuer(signing_key_pem, issuer=ISSUER, audience=AUDIENCE)
