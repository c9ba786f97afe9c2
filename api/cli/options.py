"""Options every ``ledger`` command shares: where the ledger lives."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar="LEDGER_DATA_DIR", help="Directory for the embedded database and keys.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="LEDGER_DATABASE_URL", help="sqlite:///path or postgresql://... URL."),
]
