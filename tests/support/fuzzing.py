"""The fuzzing harness: a parser that faces the outside, fed arbitrary and mutated bytes (issue 18 item 14).

A :class:`Parser` names a function taking the raw bytes (or text) a client, partner or auditor controls,
the error types its contract documents, and a few valid inputs (seeds) to mutate. The property checked
for every one is the same: the function returns, or raises one of its documented error types, and
nothing else (no ``IndexError``, ``RecursionError``, ``OverflowError``...): those are what the HTTP layer
would render as 500 and the CLI as a traceback. ``tests/fuzz/test_parsers.py`` holds the registry; a new
parser (feed files, SSO assertions) is one more entry there.

Inputs (:func:`inputs`): arbitrary bytes, arbitrary text, and seeds mutated the way real corruption and
hostile input look: bytes flipped, cut, repeated or inserted, numbers made huge or negative, brackets
nested deeply, lines doubled: a token repeated 1 to 5000 times (past ``int()``'s digit limit
and the JSON decoder's recursion limit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st


@dataclass(frozen=True)
class Parser:
    """An outside-facing parser: ``parse`` takes raw bytes; ``rejections`` are its documented error types."""

    name: str
    parse: Callable[[bytes], object]
    rejections: tuple[type[BaseException], ...]
    seeds: Sequence[bytes] = field(default_factory=tuple)

    def __str__(self) -> str:  # pytest ids
        return self.name


def check(parser: Parser, data: bytes) -> None:
    """``parser`` accepts ``data`` or rejects it with a documented error; anything else propagates."""
    try:
        parser.parse(data)
    except parser.rejections:
        return


_TOKENS = (
    b"\n",
    b"\n\n",
    b"\r\n",
    b" ",
    b"\x00",
    b"\xff",
    b"\xe2\x80\x94 ",  # em dash + space: a signed note's signature line prefix
    b"+",
    b"=",
    b'"',
    b",",
    b":",
    b"[",
    b"{",
    b'{"a":',
    b"-1",
    b"0",
    b"1e400",
    b"9",
    b"18446744073709551616",  # 2**64
    b"NaN",
    b"null",
    b"true",
    b"\\u0000",
    b"\\ud800",
    "\u00b2".encode(),  # superscript two: str.isdigit() but not int()
    "\u0663".encode(),  # Arabic-Indic three
)


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[bytes]) -> bytes:
    """One seed with one to four edits (flip, cut, repeat, insert a token or random bytes)."""
    data = bytearray(draw(st.sampled_from(list(seeds))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        end = draw(st.integers(at, min(len(data), at + 64)))
        edit = draw(st.sampled_from(["flip", "cut", "repeat", "token", "bytes", "truncate"]))
        if edit == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "cut":
            del data[at:end]
        elif edit == "repeat":
            data[at:at] = data[at:end]
        elif edit == "token":
            data[at:end] = draw(st.sampled_from(_TOKENS)) * draw(st.sampled_from([1, 2, 70, 5000]))
        elif edit == "bytes":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at:]
    return bytes(data)


@st.composite
def spliced(draw: st.DrawFn, seeds: Sequence[bytes]) -> bytes:
    """One seed with one hostile token put in place of a slice of it (at a line start, a value, anywhere)."""
    data = draw(st.sampled_from(list(seeds)))
    at = draw(st.integers(0, len(data)))
    end = draw(st.integers(at, min(len(data), at + 24)))
    token = draw(st.sampled_from(_TOKENS)) * draw(st.sampled_from([1, 2, 3, 70, 1100, 5000]))
    return data[:at] + token + data[end:]


def inputs(seeds: Sequence[bytes] = ()) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes and UTF-8 text, hostile tokens, and (when there are seeds) seeds mutated or spliced."""
    anything = st.one_of(
        st.binary(max_size=256),
        st.text(max_size=128).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.builds(bytes.__mul__, st.sampled_from(_TOKENS), st.sampled_from([1, 2, 70, 1100, 5000])),
    )
    if not seeds:
        return anything
    return st.one_of(anything, mutated(seeds), *[spliced(seeds)] * 4)
