"""A partner theme's files: the logo (PNG, WebP or SVG) and an optional WOFF2 font, checked before storing.

The type is read from the bytes, never trusted from a name or header (a declared type that disagrees is
refused). Limits: logo at most :data:`LOGO_MAX_BYTES` and :data:`MAX_PIXELS` a side, font at most
:data:`FONT_MAX_BYTES`. An SVG is refused, not cleaned, when it could run or fetch anything
(:func:`svg_refusal`): scripts, ``foreignObject`` and other embedding elements, animation, event-handler
attributes, any reference that is not a same-document fragment (``href``, ``url(...)``, ``@import``),
a DTD, entities, or an ``xml-stylesheet`` instruction. Files are stored content-addressed by SHA-256
(:class:`~ledger_core.partners.ports.ThemeAssetStore`); the log records only digests.

Formats: PNG (ISO/IEC 15948, §5.2 signature, §11.2.2 IHDR), WebP (RIFF container, "VP8 "/"VP8L"/"VP8X"
chunks, RFC 9649 §2.5-2.7), SVG 1.1/2, WOFF2 (W3C WOFF 2.0 §5.1, the table directory header).
"""

from __future__ import annotations

import hashlib
import re
import struct
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from ledger_core.engine.errors import InvalidCommand

LOGO_MAX_BYTES = 200_000
FONT_MAX_BYTES = 300_000
MAX_PIXELS = 4096
"""The largest logo side in pixels (a header logo is drawn at most a few hundred pixels wide)."""
MIN_PIXELS = 16


class AssetKind(StrEnum):
    LOGO = "logo"
    FONT = "font"


class AssetMediaType(StrEnum):
    PNG = "image/png"
    WEBP = "image/webp"
    SVG = "image/svg+xml"
    WOFF2 = "font/woff2"


KIND_OF: dict[AssetMediaType, AssetKind] = {
    AssetMediaType.PNG: AssetKind.LOGO,
    AssetMediaType.WEBP: AssetKind.LOGO,
    AssetMediaType.SVG: AssetKind.LOGO,
    AssetMediaType.WOFF2: AssetKind.FONT,
}


@dataclass(frozen=True, slots=True)
class ThemeAsset:
    """A checked file: its digest (lower-case hex SHA-256), type, size and, for raster logos, dimensions."""

    sha256: str
    kind: AssetKind
    media_type: AssetMediaType
    size: int
    width: int | None = None
    height: int | None = None


class AssetRefused(InvalidCommand):
    """A logo or font file was refused; ``details``: ``field``, ``reason`` and the measured evidence."""

    def __init__(self, field: str, reason: str, **evidence: Any) -> None:
        super().__init__(f"{field}: {reason}", field=field, reason=reason, **evidence)
        self.reason = reason


def inspect_asset(kind: AssetKind, data: bytes, declared: str | None = None) -> ThemeAsset:
    """Check ``data`` as a ``kind`` file (type from the bytes; ``declared``, if given, must agree) or raise
    :class:`AssetRefused` with the evidence."""
    field = kind.value
    limit = LOGO_MAX_BYTES if kind is AssetKind.LOGO else FONT_MAX_BYTES
    if not data:
        raise AssetRefused(field, "the file is empty", size=0)
    if len(data) > limit:
        raise AssetRefused(field, f"the file is larger than {limit} bytes", size=len(data), limit=limit)
    media_type = sniff(data)
    if media_type is None or KIND_OF[media_type] is not kind:
        allowed = [m.value for m, k in KIND_OF.items() if k is kind]
        raise AssetRefused(field, f"the file is not one of {', '.join(allowed)}", allowed=allowed)
    if declared is not None and declared not in (media_type.value, "application/octet-stream"):
        raise AssetRefused(field, "the declared type is not the file's type", declared=declared, detected=media_type)
    width, height = _dimensions(field, media_type, data)
    return ThemeAsset(hashlib.sha256(data).hexdigest(), kind, media_type, len(data), width, height)


def sniff(data: bytes) -> AssetMediaType | None:
    """The type of ``data`` from its first bytes (None: not a theme file type)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return AssetMediaType.PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return AssetMediaType.WEBP
    if data[:4] == b"wOF2":
        return AssetMediaType.WOFF2
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<svg", b"<?xml", b"<!--")) and b"<svg" in data[:4096].lower():
        return AssetMediaType.SVG
    return None


def _dimensions(field: str, media_type: AssetMediaType, data: bytes) -> tuple[int | None, int | None]:
    if media_type is AssetMediaType.WOFF2:
        _check_woff2(field, data)
        return None, None
    if media_type is AssetMediaType.SVG:
        refusal = svg_refusal(data)
        if refusal is not None:
            raise AssetRefused(field, refusal)
        return None, None
    size = _png_size(data) if media_type is AssetMediaType.PNG else _webp_size(data)
    if size is None:
        raise AssetRefused(field, f"the {media_type.value} header is malformed")
    width, height = size
    if not (MIN_PIXELS <= width <= MAX_PIXELS and MIN_PIXELS <= height <= MAX_PIXELS):
        raise AssetRefused(
            field,
            f"each side must be {MIN_PIXELS} to {MAX_PIXELS} pixels",
            width=width,
            height=height,
        )
    return width, height


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the IHDR chunk, which must come first (ISO/IEC 15948 §11.2.2)."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _webp_size(data: bytes) -> tuple[int, int] | None:
    """Canvas size from the first chunk: VP8X (24-bit sizes minus one), VP8L (14-bit), VP8 (14-bit)."""
    if len(data) < 30 or struct.unpack("<I", data[4:8])[0] + 8 != len(data):
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    return None


def _check_woff2(field: str, data: bytes) -> None:
    """The WOFF2 header (W3C WOFF 2.0 §5.1): 48 bytes, ``length`` equal to the file size, tables, reserved 0."""
    if len(data) < 48:
        raise AssetRefused(field, "the WOFF2 header is truncated", size=len(data))
    flavor, length, tables, reserved = struct.unpack(">4xIIHH", data[:16])
    if length != len(data) or tables == 0 or reserved != 0 or flavor not in _FONT_FLAVORS:
        raise AssetRefused(field, "the WOFF2 header is malformed", declared_length=int(length), size=len(data))


_FONT_FLAVORS = frozenset({0x00010000, 0x4F54544F, 0x74727565, 0x74746366})  # TrueType, 'OTTO', 'true', 'ttcf'

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
_REFUSED_ELEMENTS = frozenset(
    {
        "script",
        "foreignobject",
        "iframe",
        "embed",
        "object",
        "audio",
        "video",
        "handler",
        "listener",
        "set",
        "animate",
        "animatemotion",
        "animatetransform",
        "animatecolor",
        "discard",
    }
)
_URL_REFERENCE = re.compile(r"url\(\s*(['\"]?)\s*([^)'\"\s]*)", re.IGNORECASE)


def svg_refusal(data: bytes) -> str | None:
    """Why this SVG cannot be served as a partner logo, or None when it is safe (static, self-contained).

    The refusal reasons are the rules of the module docstring; the file is parsed by ``defusedxml``
    (no DTD, no entities, no external resources).
    """
    if b"<?xml-stylesheet" in data.lower():
        return "the SVG names a stylesheet (xml-stylesheet)"
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError):
        return "the SVG is not well-formed XML without DTD or entities"
    if root.tag != f"{{{SVG_NAMESPACE}}}svg":
        return "the root element is not an SVG <svg> element"
    for element in root.iter():
        reason = _element_refusal(element)
        if reason is not None:
            return reason
    return None


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def _element_refusal(element: Element) -> str | None:
    tag = _local(str(element.tag))
    if tag in _REFUSED_ELEMENTS:
        return f"the SVG contains a <{tag}> element (scripts, embedded content and animation are refused)"
    if tag == "style" and _references_outside(element.text or ""):
        return "the SVG's <style> references something outside the file"
    for name, value in element.attrib.items():
        attribute = _local(name)
        if attribute.startswith("on"):
            return f"the SVG has an event handler attribute ({attribute})"
        if attribute == "href" and not value.strip().startswith("#"):
            return "the SVG links outside the file (only #fragment references are allowed)"
        if _references_outside(value):
            return f"the SVG's {attribute} attribute references something outside the file"
    return None


def _references_outside(text: str) -> bool:
    """True for ``@import`` or a ``url(...)`` that is not a same-document ``#fragment``."""
    if "@import" in text.lower():
        return True
    return any(not target.startswith("#") for _, target in _URL_REFERENCE.findall(text))


class MemoryThemeAssets:
    """A :class:`~ledger_core.partners.ports.ThemeAssetStore` in memory: for a :class:`~ledger_core.ledger.Ledger`
    built without storage (tests, embedders); real deployments use the database's ``theme_assets`` table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, tuple[str, bytes]] = {}

    def put(self, sha256: str, media_type: str, data: bytes) -> None:
        with self._lock:
            self._files.setdefault(sha256, (media_type, data))

    def get(self, sha256: str) -> tuple[str, bytes] | None:
        with self._lock:
            return self._files.get(sha256)
