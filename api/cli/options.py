"""Options every ``ledger`` command shares: where the ledger lives."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapters.storage import LedgerMissing, StorageConfig, require_ledger
from api.cli.errors import CliFailure

DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar="LEDGER_DATA_DIR", help="Directory for the embedded database and keys.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="LEDGER_DATABASE_URL", help="sqlite:///path or postgresql://... URL."),
]


def existing(data_dir: Path, database_url: str | None) -> StorageConfig:
    """The storage of an existing ledger, or a one-line failure (exit 2): only ``init`` creates a ledger."""
    config = StorageConfig(data_dir, database_url)
    try:
        return require_ledger(config)
    except LedgerMissing as missing:
        hint = "create it with `ledger init`, or check --data-dir/--database-url"
        raise CliFailure(missing.code, f"{missing} ({hint})") from None
