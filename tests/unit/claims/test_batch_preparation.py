"""Records prepared away from the loader (``ledger_core.claims.batch.preparation``) give the lines, and the
chunks, that reading the file in the loader gives."""

from __future__ import annotations

import io
from decimal import Decimal

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_core.claims.batch.formats import MAX_LINE_BYTES, BatchFormat
from ledger_core.claims.batch.importing import _chunks
from ledger_core.claims.batch.lines import ClaimReader
from ledger_core.claims.batch.preparation import (
    LocalLinePreparer,
    pack_line,
    prepare_records,
    record_chunks,
    unpack_line,
)

P = "acme"
HASHES = ["ab" * 32, "cd" * 32]

claims = st.fixed_dictionaries(
    {
        "partnerClaimId": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,30}", fullmatch=True),
        "claimType": st.sampled_from(["auto", "property", "health", "liability"]),
        "claimAmount": st.one_of(
            st.decimals(min_value=Decimal("0"), max_value=Decimal("999999.99"), places=2).map(str),
            st.integers(min_value=0, max_value=10**9),
            st.sampled_from(["1e3", "0.1", "-5.00", "12.345", "1.5e2", "00012.50"]),
        ),
        "currency": st.sampled_from(["USD", "EUR", "JPY", "XXX"]),
        "submittedAt": st.sampled_from(["2025-06-01T10:00:00Z", "2025-06-01T12:00:00+02:00", "yesterday"]),
        "verificationLevel": st.sampled_from(["standard", "enhanced", "full", "paranoid"]),
        "documents": st.lists(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["photo", "invoice", "boat"]), "hash": st.sampled_from(HASHES)},
                optional={"metadata": st.dictionaries(st.sampled_from(["policyReference", "x"]), st.text(max_size=5))},
            ),
            max_size=2,
        ),
    }
)


def file_of(rows: list[dict[str, object]], extra: list[bytes]) -> bytes:
    """The rows as JSON Lines, with blank, malformed and overlong lines between them."""
    lines = [orjson.dumps(row) for row in rows]
    for index, line in enumerate(extra):
        lines.insert(min(len(lines), 2 * index + 1), line)
    return b"\n".join(lines) + b"\n"


EXTRA = [b"", b"   ", b'{"partnerClaimId": "x", ', b"[1, 2]", b"x" * (MAX_LINE_BYTES + 10), b'{"a": 1, "a": 2}']


@settings(max_examples=80)
@given(st.lists(claims, min_size=1, max_size=12), st.integers(min_value=0, max_value=len(EXTRA)))
def test_prepared_lines_are_the_lines_read_in_the_loader(rows: list[dict[str, object]], extras: int) -> None:
    """Valid and refused records alike: the same ClaimLine, through the packed form, in the same chunks."""
    data = file_of(rows, EXTRA[:extras])
    for done in (0, 2):
        expected = list(_chunks(ClaimReader(io.BytesIO(data), BatchFormat.JSON_LINES, P, "enhanced"), done, 3))
        reader = ClaimReader(io.BytesIO(data), BatchFormat.JSON_LINES, P, "enhanced")
        chunks = record_chunks(reader.json_records(), done, 3)
        assert list(LocalLinePreparer().prepare(P, "enhanced", chunks)) == expected


def test_a_packed_line_is_plain_data_and_unpacks_equal() -> None:
    """Only tuples, strings, numbers, dicts and None cross to the loader."""
    data = file_of(
        [
            {
                "partnerClaimId": "H-1",
                "claimType": "auto",
                "claimAmount": "1200.50",
                "currency": "USD",
                "submittedAt": "2025-06-01T10:00:00Z",
                "verificationLevel": "full",
                "documents": [{"type": "photo", "hash": HASHES[0], "metadata": {"policyReference": "P-1"}}],
            }
        ],
        [b'{"partnerClaimId": "H-2"}'],
    )
    reader = ClaimReader(io.BytesIO(data), BatchFormat.JSON_LINES, P, "standard")
    records = list(reader.json_records())
    packed = prepare_records(P, "standard", records)
    lines = list(ClaimReader(io.BytesIO(data), BatchFormat.JSON_LINES, P, "standard"))
    assert [unpack_line(item) for item in packed] == lines
    assert [pack_line(line) for line in lines] == packed
    assert lines[0].submission is not None
    assert lines[1].submission is None

    def plain(value: object) -> bool:
        if isinstance(value, (tuple, list)):
            return all(plain(item) for item in value)
        if isinstance(value, dict):
            return all(plain(key) and plain(item) for key, item in value.items())
        return value is None or type(value) in (str, int)

    assert all(plain(item) for item in packed)
