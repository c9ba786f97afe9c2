"""The JSON a request body may be, checked before any decoder sees it (RFC 8259, RFC 7493 I-JSON).

Litestar decodes a handler's ``data`` with msgspec, and ``/oauth/token`` may take a JSON body; both
recurse once per nesting level and both let the last of two equal member names win. So before a body
is decoded:

1. **Nesting depth** (:func:`too_deep`): a fast scan, with no decoder involved, refuses more than
   :data:`MAX_DEPTH` levels (``[`` x 100,000 would exhaust the decoder's recursion). A body with at most
   that many brackets in total cannot be deeper and is not scanned further (every real request).
2. **Duplicate member names** (RFC 7493 section 2.3, "objects MUST NOT have members with duplicate
   names"): refused, since which one wins differs between parsers (RFC 8259 section 4).
3. **Well-formed UTF-8 JSON** (RFC 8259 section 8.1): anything else is ``MALFORMED_JSON`` here, so the
   decoder behind this never sees it.

Each refusal is 400 ``MALFORMED_JSON`` naming its ``reason``. The media type rule is here too: a JSON
endpoint takes ``application/json`` or a ``+json`` type (RFC 6839 section 3.1), else 415.
"""

from __future__ import annotations

import json
import re
from typing import Any

from api.http.errors import ApiError

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (our deepest schema uses 4 levels)."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = b"[]{}"
_OTHER_BYTES = bytes(b for b in range(256) if b not in _BRACKETS)


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects in ``body`` nest deeper than ``limit`` (brackets in strings do not count).

    Linear time and no recursion: a body with at most ``limit`` brackets cannot be deeper (every real
    request ends here); otherwise strings are cut out, everything but brackets is dropped, and the rest
    is walked once. Malformed input gets an answer too; the decoder refuses it afterwards."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for byte in _STRING.sub(b"", body).translate(None, _OTHER_BYTES):
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) == len(pairs):
        return members
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise ApiError(
                "MALFORMED_JSON",
                f"the member name {name!r} appears twice in one object (RFC 7493 section 2.3)",
                reason="duplicate_member",
                member=name[:100],
            )
        seen.add(name)
    return members  # not reached: a shorter dict means a repeated name


def check_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``body`` decoded, once it passed the three checks of the module docstring; else 400 ``MALFORMED_JSON``."""
    if too_deep(body, max_depth):
        raise ApiError(
            "MALFORMED_JSON", f"JSON nested deeper than {max_depth} levels", reason="too_deep", limit=max_depth
        )
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=_refuse_duplicates)
    except UnicodeDecodeError:
        raise ApiError("MALFORMED_JSON", "the body is not UTF-8 (RFC 8259 section 8.1)", reason="not_utf8") from None
    except ValueError as error:  # json.JSONDecodeError
        raise ApiError("MALFORMED_JSON", "the request body is not valid JSON", reason=str(error)[:200]) from None


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or ``type/x+json`` (RFC 6839 section 3.1), parameters ignored."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def require_json_media_type(content_type: str | None) -> None:
    """415 ``UNSUPPORTED_MEDIA_TYPE`` unless ``content_type`` is a JSON media type."""
    if not is_json_media_type(content_type):
        raise ApiError(
            "UNSUPPORTED_MEDIA_TYPE",
            "this endpoint takes a JSON body: send Content-Type: application/json",
            received=(content_type or "")[:100] or None,
            accepted=["application/json"],
        )
