"""The checks a JSON body passes before any decoder sees it (api/http/strict_json.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.http.errors import ApiError
from api.http.strict_json import MAX_DEPTH, check_json, is_json_media_type, too_deep

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=30,
)


def reference_depth(value: Any) -> int:
    """The nesting depth of a decoded value, the obvious recursive way (tests only)."""
    if isinstance(value, list):
        return 1 + max((reference_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((reference_depth(item) for item in value.values()), default=0)
    return 0


@given(JSON_VALUES)
def test_the_scan_counts_the_depth_the_decoder_would_see(value: Any) -> None:
    """On any JSON (brackets and escaped quotes inside strings included) the linear scan agrees with a
    recursive count about whether the limit is passed."""
    encoded = json.dumps(value).encode()
    for limit in (0, 1, 2, 5):
        assert too_deep(encoded, limit) is (reference_depth(value) > limit)


def test_a_hundred_thousand_brackets_are_refused_without_recursion() -> None:
    """``[`` x 100,000 (the issue's body) and a deep object: 400 ``too_deep`` naming the limit."""
    for body in (b"[" * 100_000, b'{"a":' * 70 + b"1" + b"}" * 70):
        with pytest.raises(ApiError) as refused:
            check_json(body)
        assert (refused.value.code, refused.value.details) == (
            "MALFORMED_JSON",
            {"reason": "too_deep", "limit": MAX_DEPTH},
        )


def test_brackets_inside_strings_do_not_nest() -> None:
    """A string full of brackets is depth 1 inside its array."""
    assert check_json(json.dumps(["[" * 500 + '\\"{' * 100]).encode()) == ["[" * 500 + '\\"{' * 100]


@pytest.mark.parametrize(
    ("body", "member"),
    [(b'{"a": 1, "a": 2}', "a"), (b'{"x": [{"b": 1, "c": 2, "b": 3}]}', "b"), (b'{"\\u0061": 1, "a": 2}', "a")],
)
def test_duplicate_member_names_are_refused(body: bytes, member: str) -> None:
    """RFC 7493 section 2.3, at any depth, after escapes are decoded."""
    with pytest.raises(ApiError) as refused:
        check_json(body)
    assert refused.value.details == {"reason": "duplicate_member", "member": member}


@pytest.mark.parametrize(("body", "reason"), [(b"\xff{}", "not_utf8"), (b'{"a": }', None), (b"", None)])
def test_malformed_bodies(body: bytes, reason: str | None) -> None:
    """Not UTF-8, not JSON: MALFORMED_JSON with a reason."""
    with pytest.raises(ApiError) as refused:
        check_json(body)
    assert refused.value.code == "MALFORMED_JSON"
    if reason is not None:
        assert refused.value.details["reason"] == reason


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/merge-patch+json", True),
        ("text/plain", False),
        ("application/jsonx", False),
        (None, False),
        ("", False),
    ],
)
def test_json_media_types(content_type: str | None, accepted: bool) -> None:
    """``application/json`` or an ``application/*+json`` type (RFC 6839 section 3.1), any parameters."""
    assert is_json_media_type(content_type) is accepted
