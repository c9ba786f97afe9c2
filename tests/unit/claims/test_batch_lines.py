"""Claims batch files read back exactly what was written (JSON Lines and CSV), and bad lines are named."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_core.claims.batch.formats import BatchFileRejected, BatchFormat, BatchKind, parse_claims_name
from ledger_core.claims.batch.lines import ClaimReader, scan
from ledger_core.engine.aggregate import derive_id

P = "acme"
HASH = "ab" * 32

claims = st.fixed_dictionaries(
    {
        "partnerClaimId": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,30}", fullmatch=True),
        "claimType": st.sampled_from(["auto", "property", "health", "liability"]),
        "claimAmount": st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999.99"), places=2).map(str),
        "currency": st.just("USD"),
        "submittedAt": st.just("2025-06-01T10:00:00Z"),
        "verificationLevel": st.sampled_from(["standard", "enhanced", "full"]),
    }
)


def read(data: bytes, fmt: BatchFormat, kind: BatchKind = BatchKind.IMPORT) -> list:  # type: ignore[type-arg]
    return list(ClaimReader(io.BytesIO(data), fmt, P, "standard", kind))


@settings(max_examples=60)
@given(st.lists(claims, min_size=1, max_size=8), st.booleans())
def test_what_is_written_is_read(rows: list[dict[str, str]], with_document: bool) -> None:
    """Every valid claim written as JSON Lines and as CSV reads back as the same submission."""
    documents = [{"type": "photo", "hash": HASH}] if with_document else []
    jsonl = b"".join(orjson.dumps(row | {"documents": documents}) + b"\n" for row in rows)
    text = io.StringIO()
    writer = csv.writer(text)
    columns = list(rows[0])
    writer.writerow([*columns, "documents"])
    for row in rows:
        writer.writerow([*(row[name] for name in columns), f"photo:{HASH}" if with_document else ""])
    from_json = read(jsonl, BatchFormat.JSON_LINES)
    from_csv = read(text.getvalue().encode(), BatchFormat.CSV)
    assert [line.reason for line in from_json] == [None] * len(rows)
    assert [line.submission for line in from_json] == [line.submission for line in from_csv]
    assert [str(line.submission.claim_amount) for line in from_json if line.submission] == [
        row["claimAmount"] for row in rows
    ]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (
            (
                b'{"partnerClaimId": "A", "claimType": "auto", "claimAmount": 1.5, "currency": "USD",'
                b' "submittedAt": "2025-06-01T10:00:00Z"}'
            ),
            "claimAmount",
        ),
        (b'{"partnerClaimId": "A", "partnerClaimId": "B"}', "partnerClaimId"),
        (b'{"partnerClaimId": "A", "shoe": 1}', "shoe"),
        (b"[1, 2]", None),
        (b"{", None),
        (b"[" * 100_000, None),
    ],
    ids=["float", "duplicate-key", "unknown-key", "not-object", "not-json", "deep"],
)
def test_bad_json_lines_are_named(line: bytes, field: str | None) -> None:
    (problem,) = read(line + b"\n", BatchFormat.JSON_LINES)
    assert problem.submission is None
    assert problem.field == field
    assert problem.reason


def test_a_bad_name_or_header_rejects_the_file() -> None:
    with pytest.raises(BatchFileRejected, match="file name"):
        parse_claims_name("claims_acme_2026.jsonl")
    assert parse_claims_name("verify_acme_co_20260101-2.csv").kind is BatchKind.VERIFY
    with pytest.raises(BatchFileRejected) as rejected:
        scan(io.BytesIO(b"partnerClaimId,claimType,claimAmount,currency\n"), BatchFormat.CSV)
    assert rejected.value.rejection.value == "header_mismatch"
    with pytest.raises(BatchFileRejected) as empty:
        scan(io.BytesIO(b"\n\n"), BatchFormat.JSON_LINES)
    assert empty.value.rejection.value == "empty_file"


@settings(max_examples=40)
@given(st.lists(st.from_regex(r"[A-Za-z0-9é][A-Za-z0-9_é-]{0,30}", fullmatch=True), min_size=1, max_size=5))
def test_reconciliation_and_verification_lines_name_the_claim_by_its_derived_id(pcids: list[str]) -> None:
    """The reader hashes the file's ``claim␟partner␟`` prefix once: each id is still ``derive_id``'s."""
    listed = "".join(f"{pcid},1.00,USD,verified\n" for pcid in pcids)
    reconciled = read(
        f"partnerClaimId,claimAmount,currency,status\n{listed}".encode(), BatchFormat.CSV, BatchKind.RECONCILE
    )
    named = "".join(f"{pcid}\n" for pcid in pcids)
    verified = read(f"partnerClaimId\n{named}".encode(), BatchFormat.CSV, BatchKind.VERIFY)
    expected = [derive_id("claim", P, pcid) for pcid in pcids]
    assert [line.claim_id for line in reconciled] == [line.claim_id for line in verified] == expected
