"""Colour contrast per WCAG 2.1 (success criterion 1.4.3, Contrast (Minimum), level AA).

Definitions implemented (WCAG 2.1, "Definitions": *relative luminance* and *contrast ratio*):

* sRGB channel ``c`` in [0, 1] is linearised as ``c / 12.92`` when ``c <= 0.04045``, else
  ``((c + 0.055) / 1.055) ** 2.4``; relative luminance ``L = 0.2126 R + 0.7152 G + 0.0722 B``.
* contrast ratio ``(L1 + 0.05) / (L2 + 0.05)`` with ``L1`` the lighter: 1 (same colour) to 21 (black on white).

AA asks 4.5:1 for normal text (:data:`AA_NORMAL_TEXT`). Colours are ``#RRGGBB`` strings (:class:`Rgb`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AA_NORMAL_TEXT = 4.5
"""WCAG 2.1 SC 1.4.3: the minimum contrast ratio of normal-size text against its background."""

_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True, slots=True)
class Rgb:
    """An sRGB colour with 8-bit channels."""

    red: int
    green: int
    blue: int

    @classmethod
    def parse(cls, text: str) -> Rgb | None:
        """The colour ``#RRGGBB`` (case-insensitive), or ``None`` when ``text`` is not exactly that form."""
        if not isinstance(text, str) or _HEX_COLOUR.fullmatch(text) is None:
            return None
        return cls(int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))

    @property
    def hex(self) -> str:
        """``#rrggbb`` (lower case): the canonical form the ledger records."""
        return f"#{self.red:02x}{self.green:02x}{self.blue:02x}"

    def luminance(self) -> float:
        """Relative luminance in [0, 1] (WCAG 2.1 definition)."""
        red, green, blue = (_linear(channel) for channel in (self.red, self.green, self.blue))
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    def darkened(self, factor: float) -> Rgb:
        """Each channel scaled by ``factor`` in [0, 1] (same hue, towards black), rounded down."""
        return Rgb(int(self.red * factor), int(self.green * factor), int(self.blue * factor))


WHITE = Rgb(255, 255, 255)
NEAR_BLACK = Rgb(0x11, 0x18, 0x27)
"""The house text colour (``--pq-text`` in pages.css): the dark choice for text on a light primary."""


def _linear(channel: int) -> float:
    value = channel / 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def contrast_ratio(first: Rgb, second: Rgb) -> float:
    """The WCAG 2.1 contrast ratio of two colours, in [1, 21] (symmetric)."""
    lighter, darker = sorted((first.luminance(), second.luminance()), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_colour_on(background: Rgb) -> Rgb | None:
    """White or :data:`NEAR_BLACK`, whichever contrasts more with ``background``, if it reaches 4.5:1; else None."""
    best = max((WHITE, NEAR_BLACK), key=lambda candidate: contrast_ratio(candidate, background))
    return best if contrast_ratio(best, background) >= AA_NORMAL_TEXT else None


def darkest_needed(colour: Rgb, background: Rgb = WHITE) -> Rgb:
    """The lightest darkening of ``colour`` (same hue) that reaches 4.5:1 on ``background`` (a light background).

    Offered as a suggestion when a colour is refused; black always qualifies, so this always returns.
    """
    for step in range(100, -1, -1):
        candidate = colour.darkened(step / 100)
        if contrast_ratio(candidate, background) >= AA_NORMAL_TEXT:
            return candidate
    return Rgb(0, 0, 0)
