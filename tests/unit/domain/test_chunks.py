"""``ledger_core.shared.chunks.chunked``: a stream cut into lists of a fixed size."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_core.shared.chunks import chunked


@given(items=st.lists(st.integers()), size=st.integers(min_value=1, max_value=12))
def test_chunks_are_the_items_in_order_size_at_a_time(items: list[int], size: int) -> None:
    chunks = list(chunked(iter(items), size))
    assert [item for chunk in chunks for item in chunk] == items
    assert all(len(chunk) == size for chunk in chunks[:-1])
    assert all(0 < len(chunk) <= size for chunk in chunks)


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="chunks of 0"):
        next(chunked([1, 2], 0))
