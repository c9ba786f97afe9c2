"""RFC 8785 (JSON Canonicalization Scheme) encoding for log entries.

Contract: :func:`canonical_json` returns the RFC 8785 bytes of a JSON value built from ``dict`` (string
keys), ``list``, ``str``, ``int`` (|n| <= 2**53 - 1), ``bool`` and ``None``. Floats are refused: the
log never holds binary floating point (money is a decimal string), which also removes the only part of
RFC 8785 (§3.2.2.3, ECMAScript number formatting) where encoders disagree in practice.

Fast path: orjson with sorted keys produces the RFC 8785 bytes whenever the output is free of code
points at or above U+E000, because below that UTF-8 byte order, code point order and UTF-16 code unit
order (§3.2.3) coincide, and orjson's string escaping equals §3.2.2.2. Anything else goes through the
reference ``rfc8785`` package. A property test pins the two paths together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
import rfc8785

from ledger_core.engine.errors import InvalidCommand

MAX_SAFE_INTEGER = 2**53 - 1
# UTF-8 lead bytes of U+E000..U+10FFFF: the only characters whose key order could differ.
_NEEDS_REFERENCE = re.compile(rb"[\xee-\xf4]")
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def check_json_value(value: Any, path: str = "$") -> None:
    """Raise :class:`InvalidCommand` unless ``value`` is made only of types the log admits."""
    if _plainly_admissible(value):
        return
    _check_json_value(value, path)


def _plainly_admissible(value: Any) -> bool:
    """The hot path of :func:`check_json_value`: exact builtin types only, no error paths built.

    False means "look closer" (a str/int subclass such as an enum member is admissible; the slow
    path decides and names the offending field).
    """
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if kind is dict:  # most payloads are dicts of strings: those need no call per item (plain loops, no genexpr)
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) is not str and not _plainly_admissible(item):
                return False
        return True
    if kind is list:
        return all(_plainly_admissible(item) for item in value)
    return False


def _check_json_value(value: Any, path: str) -> None:
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return
        raise InvalidCommand("integer outside the RFC 8785 safe range", field=path, value=str(value))
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidCommand("object keys must be strings", field=path, value=repr(key))
            _check_json_value(item, f"{path}.{key}")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_value(item, f"{path}[{index}]")
        return
    if isinstance(value, float):
        raise InvalidCommand("floats are not allowed in the log; use a decimal string", field=path)
    # Tuples are refused too: they would come back as lists and break replay equality.
    raise InvalidCommand(f"type {type(value).__name__} is not allowed in the log", field=path)


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 canonical bytes of ``value`` (checked with :func:`check_json_value`)."""
    check_json_value(value)
    return canonical_json_unchecked(value)


def canonical_json_unchecked(value: Any) -> bytes:
    """Like :func:`canonical_json` for values already checked (the sequencer's hot path)."""
    encoded = orjson.dumps(value, option=_ORJSON_OPTIONS)
    if encoded.isascii() or _NEEDS_REFERENCE.search(encoded) is None:
        return encoded
    return bytes(rfc8785.dumps(value))


def canonical_json_spliced(value: Any, reference: Callable[[], Any]) -> bytes:
    """:func:`canonical_json_unchecked` of a value some of whose items are ``orjson.Fragment``: canonical bytes
    spliced in unchanged. ``reference()`` returns the same value with those items decoded.

    The result is canonical when the whole output is free of code points at or above U+E000 (the fast path's
    rule, for the spliced bytes as for the rest); otherwise ``reference()`` goes through the reference encoder.
    """
    encoded = orjson.dumps(value, option=_ORJSON_OPTIONS)
    if encoded.isascii() or _NEEDS_REFERENCE.search(encoded) is None:
        return encoded
    return bytes(rfc8785.dumps(reference()))
