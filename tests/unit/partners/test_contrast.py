"""WCAG 2.1 contrast maths (SC 1.4.3): relative luminance and contrast ratio against published pairs, and
the properties every pair satisfies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_core.partners.contrast import (
    AA_NORMAL_TEXT,
    NEAR_BLACK,
    WHITE,
    Rgb,
    contrast_ratio,
    darkest_needed,
    text_colour_on,
)

colours = st.builds(Rgb, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))

# Ratios published by WebAIM's contrast checker (two decimals, which rounds; we compare to 0.005).
KNOWN_PAIRS = [
    ("#000000", "#ffffff", 21.0),
    ("#767676", "#ffffff", 4.54),  # the lightest grey that passes AA on white
    ("#777777", "#ffffff", 4.48),
    ("#0000ff", "#ffffff", 8.59),
    ("#ff0000", "#ffffff", 4.0),
    ("#008000", "#ffffff", 5.14),
    ("#ffff00", "#000000", 19.56),
]


@pytest.mark.parametrize(("first", "second", "expected"), KNOWN_PAIRS)
def test_known_pairs(first: str, second: str, expected: float) -> None:
    one, two = Rgb.parse(first), Rgb.parse(second)
    assert one is not None
    assert two is not None
    assert contrast_ratio(one, two) == pytest.approx(expected, abs=0.005)


@given(colours)
def test_a_colour_against_itself_is_one_and_white_times_black_is_21(colour: Rgb) -> None:
    """(1.05 / (L + 0.05)) * ((L + 0.05) / 0.05) = 21 for every luminance L: the two ratios are reciprocal."""
    assert contrast_ratio(colour, colour) == pytest.approx(1.0)
    assert 1.0 <= contrast_ratio(colour, WHITE) <= 21.0
    assert contrast_ratio(colour, WHITE) * contrast_ratio(colour, Rgb(0, 0, 0)) == pytest.approx(21.0)


@given(colours, colours)
def test_ratio_is_symmetric(first: Rgb, second: Rgb) -> None:
    assert contrast_ratio(first, second) == contrast_ratio(second, first)


@given(colours)
def test_luminance_is_monotonic_in_each_channel(colour: Rgb) -> None:
    brighter = Rgb(min(colour.red + 1, 255), colour.green, colour.blue)
    assert brighter.luminance() >= colour.luminance()


@given(colours)
def test_text_colour_on_passes_when_offered(background: Rgb) -> None:
    """The chosen text colour reaches 4.5:1; None only when neither white nor near-black does."""
    chosen = text_colour_on(background)
    if chosen is None:
        assert contrast_ratio(WHITE, background) < AA_NORMAL_TEXT
        assert contrast_ratio(NEAR_BLACK, background) < AA_NORMAL_TEXT
    else:
        assert chosen in (WHITE, NEAR_BLACK)
        assert contrast_ratio(chosen, background) >= AA_NORMAL_TEXT


@given(colours)
def test_the_suggestion_passes_on_white_and_keeps_passing_colours(colour: Rgb) -> None:
    suggestion = darkest_needed(colour)
    assert contrast_ratio(suggestion, WHITE) >= AA_NORMAL_TEXT
    if contrast_ratio(colour, WHITE) >= AA_NORMAL_TEXT:
        assert suggestion == colour


@given(colours)
def test_hex_round_trips(colour: Rgb) -> None:
    assert Rgb.parse(colour.hex) == colour
    assert Rgb.parse(colour.hex.upper()) == colour


@pytest.mark.parametrize("text", ["003DA5", "#03DA5", "#003DA5F", "#00ZZA5", "blue", "#003da5 ", ""])
def test_only_six_digit_hex_parses(text: str) -> None:
    assert Rgb.parse(text) is None
