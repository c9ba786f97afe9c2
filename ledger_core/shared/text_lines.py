"""Physical lines of a binary file as UTF-8 text, bounded in length and hashed as they are read.

Shared by the inbound files (eligibility feeds, claims batches): memory never grows with a line or a file.
A line longer than ``max_bytes`` is not held: its bytes are hashed and dropped, an empty line (``"\\n"``)
stands in for it and :attr:`BoundedLines.overlong` counts it, so the caller can report that record and go on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import IO

_CHUNK = 64 * 1024


class BoundedLines:
    """Iterate the lines of ``stream`` (a leading BOM dropped); raises ``not_utf8(line number)`` on bad bytes.

    :attr:`number` is the physical line last read (1-based), :attr:`size` the bytes read so far; every byte
    read goes into ``digest``.
    """

    def __init__(
        self, stream: IO[bytes], digest: hashlib._Hash, max_bytes: int, not_utf8: Callable[[int], Exception]
    ) -> None:
        self._stream = stream
        self._digest = digest
        self._max = max_bytes
        self._not_utf8 = not_utf8
        self.overlong = 0
        self.number = 0
        self.size = 0

    def __iter__(self) -> Iterator[str]:
        first = True
        while True:
            data = self._stream.readline(self._max + 1)
            if not data:
                return
            self._digest.update(data)
            self.size += len(data)
            self.number += 1
            if len(data) > self._max and not data.endswith(b"\n"):
                self._drain()
                self.overlong += 1
                yield "\n"
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise self._not_utf8(self.number) from None
            if first:
                text, first = text.removeprefix("\ufeff"), False
            yield text

    def _drain(self) -> None:
        while True:
            data = self._stream.readline(_CHUNK)
            self._digest.update(data)
            self.size += len(data)
            if not data or data.endswith(b"\n"):
                return
