"""Logo and font checks: type from the bytes, size and dimension caps, and the SVG refusal rules."""

from __future__ import annotations

import pytest
from support.theme_files import SAFE_SVG, png, webp, woff2

from ledger_core.partners.theme_assets import (
    FONT_MAX_BYTES,
    LOGO_MAX_BYTES,
    AssetKind,
    AssetMediaType,
    AssetRefused,
    inspect_asset,
    svg_refusal,
)


def refusal(kind: AssetKind, data: bytes, declared: str | None = None) -> AssetRefused:
    with pytest.raises(AssetRefused) as refused:
        inspect_asset(kind, data, declared)
    assert refused.value.code == "VALIDATION_ERROR"
    return refused.value


def test_png_webp_svg_logos_and_a_woff2_font_are_accepted_with_their_measures() -> None:
    logo = inspect_asset(AssetKind.LOGO, png(240, 80), "image/png")
    assert (logo.media_type, logo.width, logo.height) == (AssetMediaType.PNG, 240, 80)
    assert len(logo.sha256) == 64
    wide = inspect_asset(AssetKind.LOGO, webp(300, 100))
    assert (wide.media_type, wide.width, wide.height) == (AssetMediaType.WEBP, 300, 100)
    assert inspect_asset(AssetKind.LOGO, SAFE_SVG).media_type is AssetMediaType.SVG
    assert inspect_asset(AssetKind.FONT, woff2(1024), "font/woff2").media_type is AssetMediaType.WOFF2


def test_size_caps_carry_the_measured_size_as_evidence() -> None:
    big = png(64, 64) + b"\x00" * LOGO_MAX_BYTES
    details = refusal(AssetKind.LOGO, big).details
    assert (details["field"], details["size"], details["limit"]) == ("logo", len(big), LOGO_MAX_BYTES)
    font = woff2(FONT_MAX_BYTES + 1)
    assert refusal(AssetKind.FONT, font).details["limit"] == FONT_MAX_BYTES
    assert refusal(AssetKind.LOGO, b"").details["size"] == 0


@pytest.mark.parametrize(("width", "height"), [(8, 64), (64, 8), (5000, 64), (64, 4097)])
def test_unreasonable_dimensions_are_refused(width: int, height: int) -> None:
    details = refusal(AssetKind.LOGO, _png_header(width, height)).details
    assert (details["width"], details["height"]) == (width, height)


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims a size (the check reads the header; no pixels needed to refuse)."""
    whole = png(16, 16)
    return whole[:16] + width.to_bytes(4, "big") + height.to_bytes(4, "big") + whole[24:]


def test_the_type_comes_from_the_bytes() -> None:
    assert refusal(AssetKind.LOGO, b"GIF89a" + b"\x00" * 64).details["allowed"] == [
        "image/png",
        "image/webp",
        "image/svg+xml",
    ]
    assert refusal(AssetKind.LOGO, woff2()).reason.startswith("the file is not one of")  # a font is not a logo
    assert refusal(AssetKind.FONT, png(32, 32)).details["allowed"] == ["font/woff2"]
    mismatch = refusal(AssetKind.LOGO, png(32, 32), "image/svg+xml").details
    assert (mismatch["declared"], mismatch["detected"]) == ("image/svg+xml", "image/png")


def test_a_malformed_woff2_header_is_refused() -> None:
    assert "malformed" in refusal(AssetKind.FONT, woff2(512, length=999)).reason
    assert "truncated" in refusal(AssetKind.FONT, b"wOF2" + b"\x00" * 20).reason


SVG_HEAD = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'

REFUSED_SVGS = {
    "script": SVG_HEAD + b"<script>alert(1)</script></svg>",
    "foreignObject": SVG_HEAD
    + b'<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject></svg>',
    "event handler": SVG_HEAD + b'<rect width="1" height="1" onload="alert(1)"/></svg>',
    "external href": SVG_HEAD + b'<image href="https://tracker.example/p.png"/></svg>',
    "xlink javascript": SVG_HEAD + b'<a xlink:href="javascript:alert(1)"><rect/></a></svg>',
    "external url() in style": SVG_HEAD + b'<rect style="fill:url(https://x.example/f.svg#p)"/></svg>',
    "@import": SVG_HEAD + b"<style>@import 'https://x.example/a.css';</style></svg>",
    "animation": SVG_HEAD + b'<a><set attributeName="href" to="javascript:alert(1)"/></a></svg>',
    "DTD with entities": b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]>' + SVG_HEAD + b"&x;</svg>",
    "xml-stylesheet": b'<?xml-stylesheet href="https://x.example/a.css"?>' + SVG_HEAD + b"</svg>",
    "not svg root": b'<svg:html xmlns:svg="http://www.w3.org/1999/xhtml"><svg/></svg:html>',
    "not xml": b"<svg><rect></svg>",
}


@pytest.mark.parametrize("case", sorted(REFUSED_SVGS))
def test_svgs_that_could_run_or_fetch_anything_are_refused(case: str) -> None:
    data = REFUSED_SVGS[case]
    reason = svg_refusal(data)
    assert reason is not None, case
    assert refusal(AssetKind.LOGO, data).reason == reason


def test_a_static_self_contained_svg_passes() -> None:
    assert svg_refusal(SAFE_SVG) is None
