"""Theme files built in the tests: real PNGs (any size, one colour), WebP and WOFF2 headers, SVGs good and bad."""

from __future__ import annotations

import struct
import zlib

SAFE_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 120 40">'
    b'<defs><linearGradient id="g"><stop offset="0" stop-color="#003da5"/></linearGradient></defs>'
    b'<rect width="120" height="40" fill="url(#g)"/><use xlink:href="#g"/>'
    b'<text x="8" y="26" fill="#fff" style="font-weight:700">ACME</text></svg>'
)


def png(width: int, height: int, rgb: tuple[int, int, int] = (0, 61, 165)) -> bytes:
    """A valid truecolour PNG of one colour (ISO/IEC 15948: signature, IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def webp(width: int, height: int) -> bytes:
    """A RIFF/WEBP file whose first chunk is VP8X with the given canvas size (RFC 9649 §2.7)."""
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def woff2(size: int = 256, *, length: int | None = None) -> bytes:
    """A file with a well-formed WOFF2 header (W3C WOFF 2.0 §5.1), ``size`` bytes long; ``length`` may lie."""
    header = struct.pack(">4sIIHH", b"wOF2", 0x00010000, size if length is None else length, 3, 0)
    return header + b"\x00" * (size - len(header))
