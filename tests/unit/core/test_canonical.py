"""RFC 8785 canonical JSON: the fast path agrees with the reference implementation."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_core.canonical import MAX_SAFE_INTEGER, canonical_json
from ledger_core.errors import InvalidCommand

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
def test_fast_path_equals_reference(value: object) -> None:
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
