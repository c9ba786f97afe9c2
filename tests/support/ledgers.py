"""Opening test ledgers with the toy aggregate on a given database URL."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.log_recorder import SequencedRecorder
from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.domain import ALL_AGGREGATES
from ledger_core.engine.ports import Clock
from ledger_core.ledger import Ledger
from support.clock import SteppingClock
from support.toy import Account

TOY_MASTER_KEY = bytes(range(32))


def open_toy_ledger(database_url: str, clock: Clock | None = None) -> tuple[Ledger, SequencedRecorder]:
    """A ledger that knows the toy ``Account`` aggregate (and the domain), plus its recorder (for tampering)."""
    data_dir = Path(tempfile.mkdtemp(prefix="ledger-keys-"))
    ledger = open_ledger(
        StorageConfig(data_dir, database_url),
        clock=clock or SteppingClock(),
        aggregates=(*ALL_AGGREGATES, Account),
        master_key=TOY_MASTER_KEY,  # the same key at every open of the same database (it records the key's fingerprint)
    )
    recorder = ledger.app.recorder
    assert isinstance(recorder, SequencedRecorder)
    return ledger, recorder


PHOTO = hashlib.sha256(b"photo").hexdigest()
"""The sha256 of the document :func:`open_claims_ledger` registers (claims may reference it)."""


def open_claims_ledger(config: StorageConfig, now: datetime, partner_id: str = "acme") -> Ledger:
    """A ledger on ``config`` whose clock starts at ``now``, with ``partner_id`` registered and its document
    :data:`PHOTO`: what a claims import needs before its first line."""
    opened = open_ledger(config, clock=SteppingClock(now))
    opened.partners.register(
        partner_id=partner_id, name="Acme", category="insurance_carrier", tier="standard", scopes=[]
    )
    opened.documents.register(
        partner_id=partner_id, sha256=PHOTO, document_type="photo", media_type="image/jpeg", size_bytes=10, metadata={}
    )
    return opened


CLAIMS_NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
"""The clock's start of the claims-import tests' ledgers."""
CLAIMS_PARTNER = "acme"


def historical_claim(number: int, **overrides: Any) -> dict[str, Any]:
    """Line ``number`` of a historical claims file at level enhanced, referencing :data:`PHOTO`; ``overrides``
    replace its fields."""
    return {
        "partnerClaimId": f"H-{number:05d}",
        "claimType": "auto",
        "claimAmount": f"{100 + number}.25",
        "currency": "USD",
        "submittedAt": "2025-06-01T10:00:00Z",
        "documents": [{"type": "photo", "hash": PHOTO}],
        "verificationLevel": "enhanced",
    } | overrides
