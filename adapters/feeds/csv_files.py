"""Writing outbound CSV files: cells neutralised against formula injection, written atomically.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, per OWASP's CSV injection
guidance, tab or carriage return) as a formula; such a cell is written with a leading apostrophe, which
spreadsheets show as text. Files are written to a temporary name in the same directory, flushed to disk,
then renamed into place, so a reader (or an SFTP client) never sees half a file.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """``cell`` with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], *, safe: bool = True) -> int:
    """Write ``header`` and ``rows`` to ``path`` atomically (CRLF line ends, RFC 4180); return the row count.

    ``safe``: neutralise every cell (reports, read by people in spreadsheets). The enrollment and outcome
    feeds are loaded by the partner's systems and are written exactly (``safe=False``): a negative NPS is
    ``-20``, a member id is the partner's own id as it sent it. A cell that is None is written empty, any
    other value as ``str()`` gives it (unsafe rows go to the csv module as they are: it does the same, without
    a list per row).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    count = 0
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(header)
            if safe:
                for row in rows:
                    writer.writerow([neutralise("" if cell is None else str(cell)) for cell in row])
                    count += 1
            else:  # the csv module writes None as "" and other values as str() (floats as repr, the same)
                for row in rows:
                    writer.writerow(row)
                    count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count
