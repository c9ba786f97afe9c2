"""Columns for folds over millions of entities without a Python object per entity.

The enrollment feed folds every enrollment of a partner (a million and more) and finds each again by its
aggregate id. A ``dict[bytes, int]`` from the id's 16 bytes to an ordinal costs ~140 bytes per entry in
objects (the key as pymalloc allocates it 64, the ordinal's ``int`` 32, the dict's entry and index ~40),
and those small long-lived objects end up spread over the allocator's arenas between the fold's short-lived
ones (decoded entries, rows), so the arenas stay mapped after the read chunks are gone.

:class:`IdOrdinals` keeps the ids in one ``bytearray`` (16 bytes each) and finds them through an
open-addressing table of 64-bit slots (linear probing, at most half full: 16 to 32 bytes per id),
hashed with Python's own ``hash`` of the id's bytes (SipHash, keyed per process: ids a partner can steer
cannot be made to collide). :class:`PackedStrings` keeps strings as UTF-8 in one buffer with their end
offsets. Both grow by whole buffers (no per-item allocation) and answer in pure Python: a lookup costs a
hash, one or two slot reads and a 16-byte comparison.
"""

from __future__ import annotations

from array import array

ID_BYTES = 16
_MIN_SLOTS = 1 << 10
_LOW = 0xFFFFFFFF


class IdOrdinals:
    """16-byte ids numbered 0, 1, 2, ... in the order they were first added.

    A slot holds the low 32 bits of the id's hash above its ordinal + 1 (0: free): a probe compares the ids
    only when those bits match, and growing re-places the slots without hashing the ids again."""

    __slots__ = ("_ids", "_mask", "_slots")

    def __init__(self) -> None:
        self._ids = bytearray()
        self._slots = array("Q", bytes(8 * _MIN_SLOTS))
        self._mask = _MIN_SLOTS - 1

    def __len__(self) -> int:
        return len(self._ids) >> 4

    def find(self, key: bytes) -> int:
        """The ordinal of ``key``, or -1 when it was never added."""
        slots, ids, mask = self._slots, self._ids, self._mask
        tag = hash(key) & _LOW
        index = tag & mask
        while found := slots[index]:
            if found >> 32 == tag:
                start = ((found & _LOW) - 1) << 4
                if ids[start : start + ID_BYTES] == key:
                    return (found & _LOW) - 1
            index = (index + 1) & mask
        return -1

    def add(self, key: bytes) -> int:
        """The ordinal of ``key``: the one it was given when first added, else the next one (``len`` before
        the call). ``key`` must be 16 bytes (:class:`ValueError` otherwise)."""
        if len(key) != ID_BYTES:
            raise ValueError(f"an id is {ID_BYTES} bytes, got {len(key)}")
        slots, ids, mask = self._slots, self._ids, self._mask
        tag = hash(key) & _LOW
        index = tag & mask
        while found := slots[index]:
            if found >> 32 == tag:
                start = ((found & _LOW) - 1) << 4
                if ids[start : start + ID_BYTES] == key:
                    return (found & _LOW) - 1
            index = (index + 1) & mask
        ordinal = len(ids) >> 4
        ids += key
        slots[index] = tag << 32 | (ordinal + 1)
        if (ordinal + 1) << 1 > mask:  # more than half full: twice the slots
            self._grow((mask + 1) << 1)
        return ordinal

    def _grow(self, size: int) -> None:
        slots, mask = array("Q", bytes(8 * size)), size - 1
        for found in self._slots:
            if found:
                index = (found >> 32) & mask
                while slots[index]:
                    index = (index + 1) & mask
                slots[index] = found
        self._slots, self._mask = slots, mask


class PackedStrings:
    """Strings appended in order, kept as UTF-8 in one buffer; read back by their index."""

    __slots__ = ("_data", "_ends")

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("Q")

    def __len__(self) -> int:
        return len(self._ends)

    def append(self, value: str) -> None:
        self._data += value.encode()
        self._ends.append(len(self._data))

    def __getitem__(self, index: int) -> str:
        ends = self._ends
        return self._data[ends[index - 1] if index else 0 : ends[index]].decode()
