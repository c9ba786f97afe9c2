"""Columns for folds over millions of entities without a Python object per entity.

The enrollment feed folds every enrollment of a partner (a million and more) and finds each again by its
aggregate id. A ``dict[bytes, int]`` from the id's 16 bytes to an ordinal costs ~140 bytes per entry in
objects (the key as pymalloc allocates it 64, the ordinal's ``int`` 32, the dict's entry and index ~40),
and those small long-lived objects end up spread over the allocator's arenas between the fold's short-lived
ones (decoded entries, rows), so the arenas stay mapped after the read chunks are gone.

:class:`IdOrdinals` keeps the ids in one buffer (16 bytes each) and finds them through an open-addressing
table of 64-bit slots (linear probing, at most half full: 16 to 32 bytes per id), hashed with Python's own
``hash`` of the id's bytes (SipHash, keyed per process: ids a partner can steer cannot be made to collide).
:class:`PackedStrings` keeps strings as UTF-8 in one buffer with their end offsets.

The buffers are :class:`Mapped` columns: anonymous memory (``mmap``) that doubles when full, moved by
``mremap`` on Linux (copied elsewhere), so growing leaves no freed copies behind in the C heap (``array``
and ``bytearray`` grow by ~1/8 through ``realloc``, and at a million enrollments the heap kept ~50 MiB of
such holes resident), and the room not written yet takes no memory. Lookups run in pure Python: a hash, one
or two slot reads and a 16-byte comparison.
"""

from __future__ import annotations

import mmap
import sys
from array import array
from typing import Any, Literal

Typecode = Literal["B", "H", "I", "Q"]

ID_BYTES = 16
_MIN_SLOTS = 1 << 10
_LOW = 0xFFFFFFFF
_CAN_REMAP = sys.platform.startswith("linux")  # mmap.resize of anonymous memory is mremap; elsewhere: copy


def _anonymous(size: int) -> mmap.mmap:
    """Private anonymous memory (a shared mapping is a fixed-size shmem object: grown by ``mremap``, its new
    pages would fault with SIGBUS)."""
    if hasattr(mmap, "MAP_PRIVATE"):
        return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
    return mmap.mmap(-1, size)  # Windows: no flags; never resized in place (_CAN_REMAP)


def _rounded(size: int) -> int:
    return max(mmap.PAGESIZE, -(-size // mmap.PAGESIZE) * mmap.PAGESIZE)


class Mapped:
    """A column of one ``array`` typecode in anonymous memory, zero until written: :attr:`items` indexes it
    (the ``mmap`` itself for bytes, a ``memoryview`` cast to ``typecode`` otherwise). :meth:`reserve` may
    replace :attr:`items`: read it again after calling it."""

    __slots__ = ("_map", "items", "typecode")

    def __init__(self, typecode: Typecode = "B", capacity: int = 0) -> None:
        self.typecode = typecode
        self._map = _anonymous(_rounded(capacity * _itemsize(typecode)))
        self.items: Any = self._view()

    def __len__(self) -> int:
        """The capacity, in items."""
        return len(self._map) // _itemsize(self.typecode)

    def reserve(self, items: int) -> None:
        """Room for at least ``items`` (at least twice the room there was, when it has to grow)."""
        if items <= len(self):
            return
        size = _rounded(max(items * _itemsize(self.typecode), 2 * len(self._map)))
        if isinstance(self.items, memoryview):
            self.items.release()
        if _CAN_REMAP:
            self._map.resize(size)
        else:
            larger = _anonymous(size)
            larger.write(memoryview(self._map))
            self._map.close()
            self._map = larger
        self.items = self._view()

    def _view(self) -> Any:
        return self._map if self.typecode == "B" else memoryview(self._map).cast(self.typecode)


def _itemsize(typecode: Typecode) -> int:
    return {"B": 1, "H": 2, "I": 4, "Q": 8}[typecode]


class IdOrdinals:
    """16-byte ids numbered 0, 1, 2, ... in the order they were first added.

    A slot holds the low 32 bits of the id's hash above its ordinal + 1 (0: free): a probe compares the ids
    only when those bits match, and growing re-places the slots without hashing the ids again."""

    __slots__ = ("_count", "_ids", "_mask", "_slots")

    def __init__(self) -> None:
        self._ids = Mapped("B")
        self._count = 0
        self._slots = Mapped("Q", _MIN_SLOTS)
        self._mask = _MIN_SLOTS - 1

    def __len__(self) -> int:
        return self._count

    def find(self, key: bytes) -> int:
        """The ordinal of ``key``, or -1 when it was never added."""
        slots, ids, mask = self._slots.items, self._ids.items, self._mask
        tag = hash(key) & _LOW
        index = tag & mask
        while found := slots[index]:
            if found >> 32 == tag:
                start = ((found & _LOW) - 1) << 4
                if ids[start : start + ID_BYTES] == key:
                    return int(found & _LOW) - 1
            index = (index + 1) & mask
        return -1

    def add(self, key: bytes) -> int:
        """The ordinal of ``key``: the one it was given when first added, else the next one (``len`` before
        the call). ``key`` must be 16 bytes (:class:`ValueError` otherwise)."""
        if len(key) != ID_BYTES:
            raise ValueError(f"an id is {ID_BYTES} bytes, got {len(key)}")
        slots, ids, mask = self._slots.items, self._ids.items, self._mask
        tag = hash(key) & _LOW
        index = tag & mask
        while found := slots[index]:
            if found >> 32 == tag:
                start = ((found & _LOW) - 1) << 4
                if ids[start : start + ID_BYTES] == key:
                    return int(found & _LOW) - 1
            index = (index + 1) & mask
        ordinal = self._count
        start = ordinal << 4
        if start + ID_BYTES > len(ids):
            self._ids.reserve(start + ID_BYTES)
            ids = self._ids.items
        ids[start : start + ID_BYTES] = key
        slots[index] = tag << 32 | (ordinal + 1)
        self._count = ordinal + 1
        if self._count << 1 > mask:  # more than half full: twice the slots
            self._grow((mask + 1) << 1)
        return ordinal

    def _grow(self, size: int) -> None:
        grown, mask = Mapped("Q", size), size - 1
        slots = grown.items
        for found in self._slots.items:
            if found:
                index = (found >> 32) & mask
                while slots[index]:
                    index = (index + 1) & mask
                slots[index] = found
        self._slots, self._mask = grown, mask


class PackedStrings:
    """Strings appended in order, kept as UTF-8 in one buffer; read back by their index (0 to ``len - 1``)."""

    __slots__ = ("_count", "_data", "_ends", "_used")

    def __init__(self) -> None:
        self._data = Mapped("B")
        self._ends = Mapped("I")  # "Q" once the strings pass 4 GiB
        self._used = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, value: str) -> None:
        encoded = value.encode()
        start, count = self._used, self._count
        end = start + len(encoded)
        if end > len(self._data.items):
            self._data.reserve(end)
        if count == len(self._ends.items):
            self._ends.reserve(count + 1)
        if end > _LOW and self._ends.typecode == "I":
            self._widen_ends()
        self._data.items[start:end] = encoded
        self._ends.items[count] = end
        self._used, self._count = end, count + 1

    def _widen_ends(self) -> None:
        wider = Mapped("Q", len(self._ends))
        wider.items[: self._count] = memoryview(array("Q", self._ends.items[: self._count]))
        self._ends = wider

    def __getitem__(self, index: int) -> str:
        if not 0 <= index < self._count:
            raise IndexError(index)
        ends = self._ends.items
        return self._data.items[ends[index - 1] if index else 0 : ends[index]].decode()  # type: ignore[no-any-return]
