"""Shared validators for command input. Each returns the normalized value or raises :class:`InvalidCommand`.

Conventions: dates are ``YYYY-MM-DD``; times are RFC 3339 and normalized to UTC with six fractional
digits and ``Z`` (the log's ``recordedAt`` format, so strings sort like times). Natural keys never
contain control characters, so ``derive_id`` joins them unambiguously.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, TypeVar

from ledger_core.engine.canonical import canonical_json
from ledger_core.engine.envelope import utc_text
from ledger_core.engine.errors import InvalidCommand

E = TypeVar("E", bound=Enum)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")
"""Soft hyphen, Arabic letter mark, zero-width characters, bidi marks, embeddings, overrides and isolates,
invisible operators, the byte-order mark and interlinear annotation controls."""
_SLUG = re.compile(r"[a-z0-9_]{2,64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_METADATA_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

MAX_METADATA_ENTRIES = 32
MAX_METADATA_VALUE = 1024


def check_text(value: Any, field: str, *, max_length: int, min_length: int = 1, multiline: bool = False) -> str:
    """A string of ``min_length..max_length`` characters without control characters (newlines if allowed)."""
    if not isinstance(value, str):
        raise InvalidCommand(f"{field} must be a string", field=field)
    if not min_length <= len(value) <= max_length:
        raise InvalidCommand(f"{field} must be {min_length}..{max_length} characters", field=field, length=len(value))
    pattern = _CONTROL_EXCEPT_NEWLINE if multiline else _CONTROL
    if pattern.search(value):
        raise InvalidCommand(f"{field} contains control characters", field=field)
    return value


def check_identifier(value: Any, field: str, *, max_length: int = 128) -> str:
    """A natural key: 1..max_length characters, no control characters, no surrounding whitespace, no bidi
    controls or invisible characters (Unicode TR 36 section 3.5, TR 31), in NFC (UAX 15).

    Two spellings of one identifier that render alike must be one key: the canonical-composition form
    makes ``"e\u0301"`` and ``"\u00e9"`` the same key; a bidirectional control or a zero-width
    character (which make different keys look alike, or one key look like another) is refused."""
    text = check_text(value, field, max_length=max_length)
    if text != text.strip():
        raise InvalidCommand(f"{field} has leading or trailing whitespace", field=field, value=text)
    hidden = _INVISIBLE.search(text)
    if hidden is not None:
        raise InvalidCommand(
            f"{field} contains an invisible or bidirectional control character",
            field=field,
            character=f"U+{ord(hidden.group()):04X}",
        )
    return unicodedata.normalize("NFC", text)


def check_partner_slug(value: Any, field: str = "partner_id") -> str:
    """A partner id such as ``northwestern_mutual``: ``[a-z0-9_]{2,64}``."""
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise InvalidCommand(f"{field} must match [a-z0-9_]{{2,64}}", field=field, value=str(value)[:80])
    return value


def check_sha256_hex(value: Any, field: str) -> str:
    """A SHA-256 digest as 64 lowercase hex characters."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise InvalidCommand(f"{field} must be 64 lowercase hex characters", field=field, value=str(value)[:80])
    return value


def check_int(value: Any, field: str, *, minimum: int, maximum: int) -> int:
    """An ``int`` (not ``bool``) in ``minimum..maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCommand(f"{field} must be an integer", field=field, value=repr(value)[:80])
    if not minimum <= value <= maximum:
        raise InvalidCommand(f"{field} must be in {minimum}..{maximum}", field=field, value=value)
    return value


def parse_choice(choices: type[E], value: Any, field: str) -> E:
    """The member of enum ``choices`` whose value is ``value``; the error lists the allowed values."""
    try:
        return choices(value)  # the enum's own value lookup (a dict), not a scan of its members
    except (ValueError, TypeError):
        pass
    allowed = [str(member.value) for member in choices]
    raise InvalidCommand(f"{field} must be one of {allowed}", field=field, value=str(value)[:80], allowed=allowed)


def parse_date(value: Any, field: str) -> date:
    """A calendar date written ``YYYY-MM-DD`` (no other ISO 8601 forms)."""
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidCommand(f"{field} must be a date YYYY-MM-DD", field=field, value=str(value)[:80])


def parse_optional_date(value: Any, field: str) -> date | None:
    """Like :func:`parse_date`; None (or an empty string, as in CSV feeds) means absent."""
    return None if value is None or value == "" else parse_date(value, field)


def parse_timestamp(value: Any, field: str) -> datetime:
    """An RFC 3339 time with an explicit offset (``Z`` or ``±HH:MM``), returned in UTC."""
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            pass
    raise InvalidCommand(f"{field} must be an RFC 3339 time with offset", field=field, value=str(value)[:80])


def format_timestamp(moment: datetime) -> str:
    """The normalized text of an aware datetime: UTC, six fractional digits, ``Z``."""
    if moment.tzinfo is None:
        raise InvalidCommand("time must be timezone-aware", field="time")
    return utc_text(moment)


def normalize_timestamp(value: Any, field: str) -> str:
    """:func:`parse_timestamp` then :func:`format_timestamp`."""
    return format_timestamp(parse_timestamp(value, field))


_FORM_DECODED_OFFSET = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) (\d{2}:\d{2})")


def normalize_query_timestamp(value: Any, field: str) -> str:
    """:func:`normalize_timestamp` for a time taken from a URL query string.

    Form decoding turns an unencoded ``+`` into a space, so ``since=2026-01-01T00:00:00+00:00`` arrives as
    ``2026-01-01T00:00:00 00:00``. RFC 3339 never has a space there, so a space followed by the offset
    digits is read as ``+`` (unambiguous); clients should still percent-encode it (``%2B``).
    """
    if isinstance(value, str) and (match := _FORM_DECODED_OFFSET.fullmatch(value)):
        value = f"{match[1]}+{match[2]}"
    return normalize_timestamp(value, field)


def check_metadata(value: Any, field: str) -> dict[str, str]:
    """A ``Record<string, string>``: at most 32 entries, keys ``[A-Za-z0-9_.:-]{1,64}``, values <= 1024."""
    if not isinstance(value, Mapping):
        raise InvalidCommand(f"{field} must be an object of strings", field=field)
    if len(value) > MAX_METADATA_ENTRIES:
        raise InvalidCommand(f"{field} has more than {MAX_METADATA_ENTRIES} entries", field=field, size=len(value))
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _METADATA_KEY.fullmatch(key):
            raise InvalidCommand(f"{field} key must match [A-Za-z0-9_.:-]{{1,64}}", field=field, key=str(key)[:80])
        result[key] = check_text(item, f"{field}.{key}", max_length=MAX_METADATA_VALUE, min_length=0)
    return dict(sorted(result.items()))


def check_json_object(value: Any, field: str, *, max_bytes: int) -> dict[str, Any]:
    """A JSON-native object (see :func:`canonical_json`) whose canonical form is at most ``max_bytes``."""
    if not isinstance(value, Mapping):
        raise InvalidCommand(f"{field} must be an object", field=field)
    document = dict(value)
    try:
        size = len(canonical_json(document))
    except InvalidCommand as error:
        raise InvalidCommand(f"{field}: {error.message}", **{**error.details, "field": field}) from error
    if size > max_bytes:
        raise InvalidCommand(f"{field} exceeds {max_bytes} bytes", field=field, size=size)
    return document


def check_string_list(value: Any, field: str, *, max_items: int, max_length: int) -> list[str]:
    """A list (not a bare string) of at most ``max_items`` strings, each ``1..max_length`` characters."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InvalidCommand(f"{field} must be a list of strings", field=field)
    if len(value) > max_items:
        raise InvalidCommand(f"{field} has more than {max_items} items", field=field, size=len(value))
    return [check_text(item, f"{field}[{index}]", max_length=max_length) for index, item in enumerate(value)]
