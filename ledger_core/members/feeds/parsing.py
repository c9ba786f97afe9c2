"""Streaming readers for the eligibility feed (seed 001 §2.2): CSV, a JSON array, JSON Lines.

Everything reads a binary stream in bounded pieces, so memory does not grow with the file: a physical line
(CSV, JSON Lines) or a JSON array element longer than :data:`~ledger_core.members.feeds.formats.MAX_RECORD_BYTES`
is refused without being held (the rest of an over-long line is read and dropped in bounded chunks).
Every byte read is hashed (SHA-256), so a file is known by its digest.

Whole-file rejections (:class:`~ledger_core.members.feeds.formats.FileRejected`): an empty file, bytes
that are not UTF-8 (a BOM is allowed and dropped), a first line that is not the feed's CSV header (missing,
extra, misspelt or duplicate columns; column order is free; our optional extension columns such as
``email_opt_in`` may be present or not), a JSON array that does not parse. Record
problems (a row of the wrong width, a malformed CSV quote, an over-long line, a JSON Lines line that is not
an object) are yielded as :class:`RawRecord` with a problem, and the reading goes on. CRLF and LF line
ends and newlines inside quoted CSV fields are read as CSV defines them (RFC 4180).

Nothing here echoes a cell: a header error names the missing known columns and the positions of unknown
ones, never their text (a file without a header would otherwise put its first member's data in the report).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from ledger_core.members.feeds.formats import (
    ELIGIBILITY_COLUMNS,
    EXTENSION_COLUMNS,
    MAX_RECORD_BYTES,
    FeedFormat,
    FileRejected,
    FileRejection,
    RowRefusal,
)
from ledger_core.shared.text_lines import BoundedLines

_CHUNK = 64 * 1024
_JSON_KEYS = (*ELIGIBILITY_COLUMNS, *EXTENSION_COLUMNS)
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read: ``fields`` (column -> text, None for a JSON null or absent optional key), or a
    ``problem`` ``(refusal, field, reason)`` when the record could not be read as one."""

    row: int
    line: int | None
    fields: dict[str, str | None] | None
    problem: tuple[RowRefusal, str | None, str] | None = None

    def __reduce__(self) -> tuple[type[RawRecord], tuple[object, ...]]:
        """Pickled as its fields (batches cross to worker processes; the dataclass default is ~5x slower)."""
        return RawRecord, (self.row, self.line, self.fields, self.problem)


def _lines(stream: IO[bytes], digest: hashlib._Hash) -> BoundedLines:
    """The file's physical lines, bounded by :data:`MAX_RECORD_BYTES`; bytes that are not UTF-8 reject the file."""
    return BoundedLines(
        stream,
        digest,
        MAX_RECORD_BYTES,
        lambda line: FileRejected(FileRejection.NOT_UTF8, "the file is not UTF-8 text", line),
    )


def _check_header(header: list[str]) -> list[str]:
    names = [name.strip() for name in header]
    expected = set(ELIGIBILITY_COLUMNS)
    if not expected.intersection(names):
        raise FileRejected(FileRejection.NOT_CSV, "the first line is not a CSV header of the eligibility feed", 1)
    missing = [name for name in ELIGIBILITY_COLUMNS if name not in names]
    known = expected.union(EXTENSION_COLUMNS)
    unknown = [index + 1 for index, name in enumerate(names) if name not in known]
    repeated = sorted({name for name in names if name in known and names.count(name) > 1})
    if missing or unknown or repeated:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if unknown:
            parts.append(f"unknown columns at positions {unknown}")
        if repeated:
            parts.append(f"duplicate columns {repeated}")
        raise FileRejected(FileRejection.HEADER, "wrong header: " + "; ".join(parts), 1)
    return names


def _csv_records(lines: BoundedLines) -> Iterator[RawRecord]:
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
        while not header:  # blank lines before the header
            if lines.overlong:
                raise FileRejected(FileRejection.RECORD_TOO_LARGE, "the header line is too long", lines.number)
            header = next(reader)
    except StopIteration:
        raise FileRejected(FileRejection.EMPTY, "the file is empty") from None
    except csv.Error:
        raise FileRejected(FileRejection.NOT_CSV, "the first line is not CSV", lines.number) from None
    if lines.overlong:
        raise FileRejected(FileRejection.RECORD_TOO_LARGE, "the header line is too long", 1)
    if any("\x00" in name for name in header):
        raise FileRejected(FileRejection.NOT_CSV, "the file holds NUL bytes: not a CSV text file", 1)
    names = _check_header(header)
    row = 0
    while True:
        overlong, start = lines.overlong, reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            row += 1
            yield RawRecord(row, start, None, (RowRefusal.MALFORMED, None, "malformed CSV record (quoting)"))
            continue
        if not cells and lines.overlong == overlong:
            continue  # a blank line
        row += 1
        if lines.overlong != overlong:
            yield RawRecord(
                row, start, None, (RowRefusal.TOO_LONG, None, f"record longer than {MAX_RECORD_BYTES} bytes")
            )
        elif len(cells) != len(names):
            reason = f"record has {len(cells)} fields, the header {len(names)}"
            yield RawRecord(row, start, None, (RowRefusal.MALFORMED, None, reason))
        else:
            yield RawRecord(row, start, dict(zip(names, cells, strict=True)))


def _object_record(row: int, line: int | None, value: object) -> RawRecord:
    """A JSON value as a record: an object whose keys are feed columns and whose values are strings or null."""
    if not isinstance(value, dict):
        return RawRecord(row, line, None, (RowRefusal.MALFORMED, None, "record is not a JSON object"))
    unknown = [key for key in value if key not in _JSON_KEYS]
    if unknown:
        return RawRecord(row, line, None, (RowRefusal.MALFORMED, None, f"record has {len(unknown)} unknown keys"))
    fields: dict[str, str | None] = {}
    for name in _JSON_KEYS:
        item = value.get(name)
        if isinstance(item, bool) and name in EXTENSION_COLUMNS:  # a JSON flag: {"email_opt_in": true}
            item = "true" if item else "false"
        if item is not None and not isinstance(item, str):
            return RawRecord(row, line, None, (RowRefusal.INVALID, name, f"{name} must be a string or null"))
        fields[name] = item
    return RawRecord(row, line, fields)


def _json_lines_records(lines: BoundedLines) -> Iterator[RawRecord]:
    row = 0
    seen = False
    for text in lines:
        overlong = lines.overlong
        if not text.strip() and overlong == 0:
            continue
        seen = True
        row += 1
        if not text.strip():  # the placeholder of an over-long line
            lines.overlong = 0
            yield RawRecord(
                row, lines.number, None, (RowRefusal.TOO_LONG, None, f"line longer than {MAX_RECORD_BYTES} bytes")
            )
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            yield RawRecord(row, lines.number, None, (RowRefusal.MALFORMED, None, "line is not JSON"))
            continue
        yield _object_record(row, lines.number, value)
    if not seen:
        raise FileRejected(FileRejection.EMPTY, "the file is empty")


class _JsonArray:
    """Elements of one top-level JSON array, decoded one at a time from a bounded text buffer."""

    def __init__(self, stream: IO[bytes], digest: hashlib._Hash) -> None:
        self._stream = stream
        self._digest = digest
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._json = json.JSONDecoder()
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.size = 0

    def _fill(self) -> bool:
        """Read one more chunk; False at the end of the stream."""
        if self.eof:
            return False
        chunk = self._stream.read(_CHUNK)
        self._digest.update(chunk)
        self.size += len(chunk)
        self.eof = not chunk
        try:
            text = self._decoder.decode(chunk, final=self.eof)
        except UnicodeDecodeError:
            raise FileRejected(FileRejection.NOT_UTF8, "the file is not UTF-8 text") from None
        self.buffer = self.buffer[self.pos :] + text
        self.pos = 0
        return bool(chunk)

    def _next_char(self) -> str:
        """The next non-blank character (not consumed), '' at the end."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._fill():
                return ""

    def _value(self) -> object:
        self._next_char()  # raw_decode does not skip leading whitespace
        while True:
            try:
                value, end = self._json.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError:
                if len(self.buffer) - self.pos > MAX_RECORD_BYTES:
                    raise FileRejected(
                        FileRejection.RECORD_TOO_LARGE, f"a JSON element is longer than {MAX_RECORD_BYTES} bytes"
                    ) from None
                if not self._fill():
                    raise FileRejected(FileRejection.NOT_JSON, "the file is not a JSON array of objects") from None
                continue
            if end == len(self.buffer) and not self.eof and not isinstance(value, (dict, list, str)):
                self._fill()  # a number may continue in the next chunk
                continue
            if end - self.pos > MAX_RECORD_BYTES:
                raise FileRejected(
                    FileRejection.RECORD_TOO_LARGE, f"a JSON element is longer than {MAX_RECORD_BYTES} bytes"
                )
            self.pos = end
            return value

    def records(self) -> Iterator[RawRecord]:
        first = self._next_char()
        if first == "":
            raise FileRejected(FileRejection.EMPTY, "the file is empty")
        if first != "[":
            raise FileRejected(FileRejection.NOT_JSON, "the file is not a JSON array of objects")
        self.pos += 1
        row = 0
        if self._next_char() == "]":
            self.pos += 1
        else:
            while True:
                row += 1
                yield _object_record(row, None, self._value())
                separator = self._next_char()
                self.pos += 1
                if separator == "]":
                    break
                if separator != ",":
                    raise FileRejected(FileRejection.NOT_JSON, "the file is not a JSON array of objects")
        if self._next_char() != "":
            raise FileRejected(FileRejection.NOT_JSON, "text after the end of the JSON array")


@dataclass
class RecordReader:
    """Records of one eligibility file, read once; :attr:`digest` and :attr:`size` are final after the last."""

    stream: IO[bytes]
    format: FeedFormat
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256)
    _size: int = 0
    _counted: BoundedLines | _JsonArray | None = None

    def __iter__(self) -> Iterator[RawRecord]:
        if self.format is FeedFormat.JSON:
            array_reader = _JsonArray(self.stream, self._hash)
            self._counted = array_reader
            yield from array_reader.records()
            return
        lines = _lines(self.stream, self._hash)
        self._counted = lines
        if self.format is FeedFormat.CSV:
            yield from _csv_records(lines)
        else:
            yield from _json_lines_records(lines)

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()

    @property
    def size(self) -> int:
        return 0 if self._counted is None else self._counted.size


def member_key(pmid: str) -> int:
    """A 64-bit key of a partner member id (non-zero), for finding repeats without keeping every id."""
    return int.from_bytes(hashlib.blake2b(pmid.encode("utf-8"), digest_size=8).digest(), "big") or 1


@dataclass(frozen=True, slots=True)
class FileScan:
    """The first pass over a file: its digest and size, its number of records, and for each record whose
    member id appears again later, the row that supersedes it (the last occurrence wins)."""

    digest: str
    size: int
    rows: int
    superseded: dict[int, int]


_BUCKETS = 256
"""The repeat check sorts the keys in this many buckets (by their top 8 bits), one at a time."""


def scan(stream: IO[bytes], fmt: FeedFormat) -> FileScan:
    """Read the whole file once: reject it whole (:class:`FileRejected`) or return its :class:`FileScan`.

    Memory: 16 bytes per record for the repeat check (a 64-bit key and the row number, kept in one of
    :data:`_BUCKETS` arrays by the key's top bits), plus the repeats found; the keys are sorted a bucket at a
    time (one sort of every key at once held ~100 bytes of Python objects per record: ~108 MiB at 1M rows).
    """
    reader = RecordReader(stream, fmt)
    keys = [array("Q") for _ in range(_BUCKETS)]
    rows = [array("Q") for _ in range(_BUCKETS)]
    count = 0
    for record in reader:
        count += 1
        pmid = None if record.fields is None else record.fields.get("partner_member_id")
        if pmid:
            key = member_key(pmid)
            bucket = key >> 56
            keys[bucket].append(key)
            rows[bucket].append(record.row)
    superseded: dict[int, int] = {}
    for bucket in range(_BUCKETS):
        _repeats(keys[bucket], rows[bucket], superseded)
        keys[bucket], rows[bucket] = array("Q"), array("Q")  # freed as soon as checked
    return FileScan(reader.digest, reader.size, count, superseded)


def _repeats(keys: array[int], rows: array[int], superseded: dict[int, int]) -> None:
    """Record in ``superseded`` every row (of ``rows``, in file order) whose key appears again in a later row:
    row -> the last row with that key."""
    order = sorted(range(len(keys)), key=keys.__getitem__)  # stable: equal keys stay in file order
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and keys[order[end]] == keys[order[start]]:
            end += 1
        if end - start > 1:
            last = rows[order[end - 1]]
            for index in order[start : end - 1]:
                superseded[rows[index]] = last
        start = end
