"""Writer functions run in other processes (spawned) by the concurrency tests."""

from __future__ import annotations

from support.ledgers import open_toy_ledger
from support.toy import Account


def write_accounts(url: str, prefix: str, count: int) -> int:
    """Open ``count`` accounts with one note each, one save per account; return events written."""
    ledger, _ = open_toy_ledger(url)
    try:
        for index in range(count):
            account = Account.open("writer", f"{prefix}-{index}")
            account.note(f"note {index}")
            ledger.app.save(account)
    finally:
        ledger.close()
    return count * 2
