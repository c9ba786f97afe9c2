"""Cutting a stream into lists of a fixed size (the batch paths: chunks of a claims file, batches of results)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in order, ``size`` at a time (the last list may be shorter; none is empty): Python 3.12's
    ``itertools.batched``, as lists."""
    if size < 1:
        raise ValueError(f"chunks of {size} items")
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
