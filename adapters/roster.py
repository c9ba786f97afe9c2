"""The partner's user roster for deprovisioning sync (seed 001 section 1.4: "periodically sync user list").

A roster is a CSV named ``users_<partner>_<YYYYMMDD>.csv`` (the feeds' naming convention, section 2.2), as
the partner uploads it to the operations API or drops it on the SFTP inbound. Its header names the id
column, which also says whose accounts it lists: ``staff_id`` (the partner's staff, the SAML/OIDC
``partner_id`` attribute) or ``partner_member_id`` (members, as in the eligibility feed); a generic
``partner_user_id`` column needs the kind from the caller. Every row is one user who remains active;
other columns are ignored (and never stored). A roster with no row is refused: it would deactivate every
account, which is never what an empty export means.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime

from ledger_core.engine.errors import InvalidCommand

ROSTER_NAME = re.compile(r"^users_(?P<partner>[a-z0-9][a-z0-9_-]{0,62})_(?P<day>\d{8})\.csv$")
KIND_COLUMNS = {"staff_id": "staff", "partner_member_id": "member", "member_id": "member"}
GENERIC_COLUMN = "partner_user_id"
MAX_ROSTER_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Roster:
    """The ids that remain active for ``partner_id``'s accounts of ``user_kind``, as of ``as_of``."""

    partner_id: str
    user_kind: str
    as_of: date | None
    active_ids: frozenset[str]


def roster_file_name(name: str) -> tuple[str, date] | None:
    """``(partner, day)`` of a file named ``users_<partner>_<YYYYMMDD>.csv``; None for any other name."""
    found = ROSTER_NAME.match(name)
    if found is None:
        return None
    try:
        day = datetime.strptime(found["day"], "%Y%m%d").date()
    except ValueError:
        return None
    return found["partner"], day


def parse_roster(partner_id: str, content: bytes, *, user_kind: str | None = None, name: str | None = None) -> Roster:
    """The roster in ``content`` (UTF-8 CSV, optional BOM); ``name`` (if given) must be this partner's file."""
    as_of = None
    if name is not None:
        parsed = roster_file_name(name)
        if parsed is None or parsed[0] != partner_id:
            raise InvalidCommand(f"a roster file is named users_{partner_id}_YYYYMMDD.csv", field="file")
        as_of = parsed[1]
    if len(content) > MAX_ROSTER_BYTES:
        raise InvalidCommand(f"the roster is over {MAX_ROSTER_BYTES} bytes", field="file")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidCommand("the roster must be UTF-8 CSV", field="file") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    column, kind = _id_column(header, user_kind)
    ids: set[str] = set()
    for line, row in enumerate(reader, start=2):
        value = (row.get(column) or "").strip()
        if not value:
            raise InvalidCommand(f"line {line}: {column} is empty", field=column, line=line)
        ids.add(value)
    if not ids:
        raise InvalidCommand("the roster lists no user; refusing to deactivate every account", field="file")
    return Roster(partner_id, kind, as_of, frozenset(ids))


def _id_column(header: list[str], user_kind: str | None) -> tuple[str, str]:
    for column, kind in KIND_COLUMNS.items():
        if column in header:
            if user_kind is not None and user_kind != kind:
                raise InvalidCommand(f"column {column} lists {kind} accounts, not {user_kind}", field="user_kind")
            return column, kind
    if GENERIC_COLUMN in header:
        if user_kind not in ("staff", "member"):
            raise InvalidCommand("a partner_user_id roster needs user_kind staff or member", field="user_kind")
        return GENERIC_COLUMN, user_kind
    expected = [*KIND_COLUMNS, GENERIC_COLUMN]
    raise InvalidCommand(f"the roster header must name one of {expected}", field="file")
