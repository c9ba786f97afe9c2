"""Streaming readers of claims files: JSON Lines and CSV (formats in :mod:`.formats`), constant memory.

Each record becomes a :class:`ClaimLine`: a validated :class:`ClaimSubmission` (the API's rules,
:func:`~ledger_core.claims.submission.validate_submission`) or a problem naming the line, the field and the
reason. Whole-file rejections (:class:`~.formats.BatchFileRejected`): an empty file, bytes that are not UTF-8,
a CSV whose header is not the claims columns. Amounts: a decimal string or a JSON integer; a JSON number
with a fraction or an exponent is refused (it is a binary float to most writers, and ``0.1`` is not what a
float holds), as are more decimals than the currency has.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any
from uuid import UUID

from ledger_core.claims.batch.formats import (
    CLAIM_COLUMNS,
    ID_COLUMNS,
    JSON_FIELDS,
    MAX_LINE_BYTES,
    OPTIONAL_COLUMNS,
    RECONCILE_COLUMNS,
    BatchFileRejected,
    BatchFileRejection,
    BatchFormat,
    BatchKind,
)
from ledger_core.claims.submission import ClaimSubmission, validate_submission
from ledger_core.engine.aggregate import uuid5_format, uuid5_prefix
from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.money import Currency, parse_amount, parse_currency
from ledger_core.shared.text_lines import BoundedLines
from ledger_core.shared.validation import check_identifier, parse_choice
from ledger_core.shared.vocabulary import ClaimStatus


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """One record: ``submission`` when valid, else ``field`` (or None) and ``reason``."""

    line: int
    submission: ClaimSubmission | None = None
    partner_claim_id: str | None = None
    field: str | None = None
    reason: str | None = None
    claim_id: UUID | None = None
    """Bulk verification and reconciliation: the claim the line names."""
    expected: PartnerView | None = None
    """Reconciliation: the partner's view of the claim."""


@dataclass(frozen=True, slots=True)
class PartnerView:
    """A claim as the partner's own system sees it (a reconciliation line), normalised like the ledger's."""

    amount: Decimal
    currency: Currency
    status: ClaimStatus


class _JsonFloat(float):
    """Marks a JSON number written with a fraction or an exponent."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidCommand(f"key {key!r} appears twice (RFC 7493 I-JSON)", field=key)
        result[key] = value
    return result


def _documents_from_cell(cell: str) -> list[dict[str, str]]:
    """``type:sha256;type:sha256`` -> the API's document objects."""
    documents = []
    for index, part in enumerate(item.strip() for item in cell.split(";") if item.strip()):
        kind, sep, digest = part.partition(":")
        if not sep:
            raise InvalidCommand(f"documents[{index}] must be written type:sha256", field=f"documents[{index}]")
        documents.append({"type": kind.strip(), "hash": digest.strip()})
    return documents


def _amount(value: Any) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        if isinstance(value, float):
            raise InvalidCommand(
                'claimAmount must be a decimal string such as "1250.00" or an integer, not a JSON number with a '
                "fraction or an exponent",
                field="claimAmount",
            )
        raise InvalidCommand("claimAmount must be a decimal string or an integer", field="claimAmount")
    if isinstance(value, str) and not value.replace(".", "", 1).isascii():
        raise InvalidCommand("claimAmount must be written in ASCII digits", field="claimAmount")
    return value


RawRecord = tuple[int, str, bool]
"""A JSON Lines record as read: its line number, its text, and whether it was longer than the limit."""


class LineChecks:
    """Turns a file's parsed records into :class:`ClaimLine` (the API's rules), for ``partner_id``'s file of
    ``kind``; ``default_level``: the verification level of a record that names none. Pure: a worker process
    may run it on records read elsewhere."""

    def __init__(self, partner_id: str, default_level: str, kind: BatchKind = BatchKind.IMPORT) -> None:
        self.partner_id = partner_id
        self.default_level = default_level
        self.kind = kind
        self._claim_ids = uuid5_prefix(f"claim\x1f{partner_id}\x1f")

    def record(self, line: int, fields: Mapping[str, Any], problem: ClaimLine | None) -> ClaimLine:
        """The :class:`ClaimLine` of a record (``problem`` when the reading already refused it)."""
        if problem is not None:
            return problem
        if self.kind is BatchKind.IMPORT:
            return self._claim(line, fields)
        if self.kind is BatchKind.VERIFY:
            return self._reference(line, fields)
        return self._partner_view(line, fields)

    def _claim(self, line: int, fields: Mapping[str, Any]) -> ClaimLine:
        pcid = fields.get("partnerClaimId")
        pcid_text = pcid if isinstance(pcid, str) else None
        try:
            partner = fields.get("partnerId")
            if partner is not None and partner != self.partner_id:
                raise InvalidCommand("partnerId names another partner than the file's", field="partnerId")
            required = (name for name in CLAIM_COLUMNS if name not in OPTIONAL_COLUMNS)
            missing = [name for name in required if fields.get(name) in (None, "")]
            if missing:
                raise InvalidCommand(f"{missing[0]} is required", field=missing[0])
            submission = validate_submission(
                partner_id=self.partner_id,
                partner_claim_id=str(pcid),
                claim_type=str(fields["claimType"]),
                claim_amount=_amount(fields["claimAmount"]),
                currency=str(fields["currency"]),
                submitted_at=str(fields["submittedAt"]),
                documents=fields.get("documents") or [],
                verification_level=str(fields.get("verificationLevel") or self.default_level),
            )
        except InvalidCommand as error:
            field = _camel(error.details.get("field"))
            return ClaimLine(line, partner_claim_id=pcid_text, field=field, reason=str(error))
        return ClaimLine(line, submission, submission.partner_claim_id)

    def _reference(self, line: int, fields: Mapping[str, Any]) -> ClaimLine:
        """A bulk verification line: the claim named by ``claimId`` (a UUID) or by ``partnerClaimId``."""
        named = {key: fields[key] for key in ID_COLUMNS if fields.get(key) not in (None, "")}
        if len(named) != 1:
            return ClaimLine(line, reason="name the claim by exactly one of claimId and partnerClaimId")
        key, value = next(iter(named.items()))
        if not isinstance(value, str):
            return ClaimLine(line, field=key, reason=f"{key} must be a string")
        if key == "claimId":
            try:
                return ClaimLine(line, claim_id=UUID(value))
            except ValueError:
                return ClaimLine(line, field=key, reason="claimId must be a UUID")
        try:
            pcid = check_identifier(value, "partnerClaimId")
        except InvalidCommand as error:
            return ClaimLine(line, field=key, reason=str(error))
        return ClaimLine(line, partner_claim_id=pcid, claim_id=self._claim_id(pcid))

    def _partner_view(self, line: int, fields: Mapping[str, Any]) -> ClaimLine:
        """A reconciliation line: the claim by ``partnerClaimId`` and the partner's amount, currency, status."""
        pcid = fields.get("partnerClaimId")
        try:
            missing = [name for name in RECONCILE_COLUMNS if fields.get(name) in (None, "")]
            if missing:
                raise InvalidCommand(f"{missing[0]} is required", field=missing[0])
            pcid = check_identifier(pcid, "partnerClaimId")
            currency = parse_currency(str(fields["currency"]), "currency")
            view = PartnerView(
                parse_amount(_amount(fields["claimAmount"]), currency, field="claimAmount"),
                currency,
                parse_choice(ClaimStatus, str(fields["status"]), "status"),
            )
        except InvalidCommand as error:
            field = _camel(error.details.get("field"))
            return ClaimLine(
                line, partner_claim_id=pcid if isinstance(pcid, str) else None, field=field, reason=str(error)
            )
        return ClaimLine(line, partner_claim_id=pcid, claim_id=self._claim_id(pcid), expected=view)

    def _claim_id(self, partner_claim_id: str) -> UUID:
        """``derive_id("claim", partner_id, partner_claim_id)``, the shared prefix hashed once per file."""
        digest = self._claim_ids.copy()
        digest.update(partner_claim_id.encode())
        return UUID(uuid5_format(digest.hexdigest()))


class ClaimReader:
    """Records of one claims file, read once; :attr:`digest` and :attr:`size` are final after the last line.

    ``partner_id``: the file's partner (a JSON line naming another is refused); ``default_level``: the
    verification level of a record that names none.
    """

    def __init__(
        self,
        stream: IO[bytes],
        fmt: BatchFormat,
        partner_id: str,
        default_level: str,
        kind: BatchKind = BatchKind.IMPORT,
    ) -> None:
        self._hash = hashlib.sha256()
        self._lines = BoundedLines(
            stream,
            self._hash,
            MAX_LINE_BYTES,
            lambda line: BatchFileRejected(BatchFileRejection.NOT_UTF8, "the file is not UTF-8 text", line),
        )
        self.format = fmt
        self.partner_id = partner_id
        self.default_level = default_level
        self.kind = kind
        self.checks = LineChecks(partner_id, default_level, kind)

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()

    @property
    def size(self) -> int:
        return self._lines.size

    def __iter__(self) -> Iterator[ClaimLine]:
        records = self._csv() if self.format is BatchFormat.CSV else self._json_lines()
        seen = False
        for line, fields, problem in records:
            seen = True
            yield self.checks.record(line, fields, problem)
        if not seen:
            raise BatchFileRejected(BatchFileRejection.EMPTY, "the file holds no claims")

    def json_records(self) -> Iterator[RawRecord]:
        """A JSON Lines file's records as read, not parsed (blank lines skipped): what :func:`parse_json_record`
        and :meth:`LineChecks.record` turn into the :class:`ClaimLine` that iterating would give, one each."""
        for text in self._lines:
            overlong = self._lines.overlong
            if not text.strip() and not overlong:
                continue
            if overlong:
                self._lines.overlong = 0
            yield self._lines.number, text, bool(overlong)

    def _json_lines(self) -> Iterator[tuple[int, Mapping[str, Any], ClaimLine | None]]:
        for number, text, overlong in self.json_records():
            yield parse_json_record(number, text, overlong, self.kind)

    def _csv(self) -> Iterator[tuple[int, Mapping[str, Any], ClaimLine | None]]:
        reader = csv.reader(self._lines, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise BatchFileRejected(BatchFileRejection.EMPTY, "the file holds no claims") from None
        except csv.Error:
            raise BatchFileRejected(BatchFileRejection.NOT_CSV, "the first line is not CSV", 1) from None
        names = _check_header(header, self.kind)
        while True:
            start = reader.line_num + 1
            overlong = self._lines.overlong
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error:
                yield start, {}, ClaimLine(start, reason="malformed CSV record (quoting)")
                continue
            if self._lines.overlong != overlong:
                yield start, {}, ClaimLine(start, reason=f"line longer than {MAX_LINE_BYTES} bytes")
            elif not cells:
                continue
            elif len(cells) != len(names):
                yield start, {}, ClaimLine(start, reason=f"record has {len(cells)} fields, the header {len(names)}")
            elif self.kind is not BatchKind.IMPORT:
                yield start, dict(zip(names, cells, strict=True)), None
            else:
                fields: dict[str, Any] = dict(zip(names, cells, strict=True))
                try:
                    fields["documents"] = _documents_from_cell(fields.get("documents") or "")
                except InvalidCommand as error:
                    pcid, where = fields.get("partnerClaimId"), error.details.get("field")
                    problem = ClaimLine(start, None, pcid, where, str(error))
                    yield start, {}, problem
                    continue
                yield start, fields, None


def parse_json_record(
    number: int, text: str, overlong: bool, kind: BatchKind
) -> tuple[int, Mapping[str, Any], ClaimLine | None]:
    """One JSON Lines record parsed: (line, fields, None), or (line, {}, the problem) when it is no JSON object
    of the fields ``kind`` allows (duplicate keys and JSON numbers with a fraction are refused later or here)."""
    if overlong:
        return number, {}, ClaimLine(number, reason=f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_float=_JsonFloat)
    except InvalidCommand as error:
        return number, {}, ClaimLine(number, field=error.details.get("field"), reason=str(error))
    except (json.JSONDecodeError, RecursionError):
        return number, {}, ClaimLine(number, reason="line is not JSON")
    if not isinstance(value, dict):
        return number, {}, ClaimLine(number, reason="line is not a JSON object")
    allowed = _JSON_KEYS[kind]
    unknown = sorted(key for key in value if key not in allowed)
    if unknown:
        return number, {}, ClaimLine(number, field=unknown[0], reason=f"unknown field {unknown[0]!r}")
    return number, value, None


def _check_header(header: list[str], kind: BatchKind) -> list[str]:
    names = [name.strip() for name in header]
    columns = _COLUMNS[kind]
    required = [] if kind is BatchKind.VERIFY else [name for name in columns if name not in OPTIONAL_COLUMNS]
    missing = [name for name in required if name not in names]
    unknown = [index + 1 for index, name in enumerate(names) if name not in columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if not set(columns).intersection(names):
        raise BatchFileRejected(BatchFileRejection.NOT_CSV, "the first line is not the header of a claims CSV", 1)
    if missing or unknown or repeated:
        parts = [f"missing columns {missing}"] if missing else []
        parts += [f"unknown columns at positions {unknown}"] if unknown else []
        parts += [f"duplicate columns {repeated}"] if repeated else []
        raise BatchFileRejected(BatchFileRejection.HEADER, "wrong header: " + "; ".join(parts), 1)
    return names


_COLUMNS = {BatchKind.IMPORT: CLAIM_COLUMNS, BatchKind.VERIFY: ID_COLUMNS, BatchKind.RECONCILE: RECONCILE_COLUMNS}
_JSON_KEYS = {
    BatchKind.IMPORT: JSON_FIELDS,
    BatchKind.VERIFY: frozenset(ID_COLUMNS),
    BatchKind.RECONCILE: frozenset(RECONCILE_COLUMNS),
}
_API_NAMES = {
    "partner_claim_id": "partnerClaimId",
    "claim_type": "claimType",
    "claim_amount": "claimAmount",
    "submitted_at": "submittedAt",
    "verification_level": "verificationLevel",
    "partner_id": "partnerId",
}


def _camel(name: Any) -> str | None:
    """The file's name of a field the domain named (``claim_amount`` -> ``claimAmount``; ``documents[0].hash``)."""
    if not isinstance(name, str):
        return None
    return _API_NAMES.get(name, name)


@dataclass(frozen=True, slots=True)
class FileScan:
    """The first pass over a claims file: its digest and size (the file is readable: UTF-8, right header)."""

    digest: str
    size: int


def scan(stream: IO[bytes], fmt: BatchFormat, kind: BatchKind = BatchKind.IMPORT) -> FileScan:
    """Read the whole file once: digest, UTF-8, the CSV header; raises :class:`BatchFileRejected`."""
    digest = hashlib.sha256()
    lines = BoundedLines(
        stream,
        digest,
        MAX_LINE_BYTES,
        lambda line: BatchFileRejected(BatchFileRejection.NOT_UTF8, "the file is not UTF-8 text", line),
    )
    blank = True
    for text in lines:
        if blank and text.strip():
            blank = False
            if fmt is BatchFormat.CSV:
                try:
                    header = next(csv.reader([text]))
                except csv.Error:
                    raise BatchFileRejected(BatchFileRejection.NOT_CSV, "the first line is not CSV", 1) from None
                _check_header(header, kind)
    if blank:
        raise BatchFileRejected(BatchFileRejection.EMPTY, "the file holds no claims")
    return FileScan(digest.hexdigest(), lines.size)
