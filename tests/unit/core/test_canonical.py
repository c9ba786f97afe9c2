"""RFC 8785 canonical JSON: the fast path agrees with the reference implementation."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_core.engine.canonical import MAX_SAFE_INTEGER, canonical_json, check_json_value
from ledger_core.engine.errors import InvalidCommand

json_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER) | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=500)
@given(json_values)
def test_fast_path_equals_reference(value: Any) -> None:  # a JSON value (rfc8785 types it privately)
    """For every float-free JSON value, our bytes are exactly rfc8785's."""
    assert canonical_json(value) == rfc8785.dumps(value)


def test_keys_sort_by_utf16_code_units() -> None:
    """A supplementary-plane key sorts before U+E000..U+FFFF keys (RFC 8785 §3.2.3), unlike code point order."""
    value = {"\ue000": 1, "\U0001f600": 2}
    assert canonical_json(value) == '{"\U0001f600":2,"\ue000":1}'.encode()


def test_rfc8785_string_escapes() -> None:
    """Control characters use \\uXXXX lowercase; '/' and non-ASCII are not escaped (§3.2.2.2)."""
    assert canonical_json({"a": "\u001f\n/é"}) == b'{"a":"\\u001f\\n/\xc3\xa9"}'


@pytest.mark.parametrize(
    "bad",
    [1.5, {"x": [0.1]}, 2**53, -(2**53), (1, 2), {1: "x"}, b"bytes", {"d": {"nested": object()}}],
)
def test_refuses_values_the_log_does_not_admit(bad: object) -> None:
    """Floats, unsafe integers, tuples, non-string keys and non-JSON types are refused with evidence."""
    with pytest.raises(InvalidCommand) as caught:
        canonical_json(bad)
    assert caught.value.details["field"].startswith("$")


class Colour(StrEnum):
    RED = "red"


any_values = st.recursive(
    json_scalars | st.floats(allow_nan=False) | st.integers() | st.sampled_from([Colour.RED, b"x", (1,)]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3) | st.integers(0, 3), children, max_size=4)
    ),
    max_leaves=15,
)


def _reference_verdict(value: object, path: str = "$") -> str | None:
    """The field a naive recursive check refuses (the documented rules), or None when admitted."""
    if value is None or isinstance(value, (str, bool)):
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_SAFE_INTEGER else path
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return path
            found = _reference_verdict(item, f"{path}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _reference_verdict(item, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    return path


@settings(max_examples=500)
@given(any_values)
def test_check_json_value_fast_path_agrees_with_the_rules(value: object) -> None:
    """The exact-type fast path never admits what the rules refuse, and errors name the first bad field."""
    expected = _reference_verdict(value)
    if expected is None:
        check_json_value(value)
        return
    with pytest.raises(InvalidCommand) as caught:
        check_json_value(value)
    assert caught.value.details["field"] == expected
