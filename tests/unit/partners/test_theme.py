"""Theme use cases on a real embedded ledger: set, change, clear in the log; contrast refusal with a
suggestion; files only by digest of an uploaded file of the right kind; only a theme's own files are served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.theme_files import SAFE_SVG, png, woff2

from adapters.opening import open_ledger
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.ledger import Ledger
from ledger_core.partners.contrast import AA_NORMAL_TEXT, WHITE, Rgb, contrast_ratio
from ledger_core.partners.theme import ContrastTooLow, FontStack, check_primary
from ledger_core.partners.theme_assets import AssetKind, AssetRefused

P = "acme"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_ledger(tmp_path / "data") as opened:
        opened.partners.register(
            partner_id=P, name="ACME Mutual", category="insurance_carrier", tier="standard", scopes=[]
        )
        yield opened


def theme_events(ledger: Ledger) -> list[tuple[str, dict[str, object]]]:
    return [(e.type, dict(e.payload)) for e in ledger.entries() if e.type.startswith("theme.")]


def test_set_change_clear_are_logged_with_digests_and_repeat_is_silent(ledger: Ledger) -> None:
    logo = ledger.themes.store_asset(P, AssetKind.LOGO, png(120, 40))
    first = ledger.themes.set(P, primary="#003DA5", display_name="ACME", logo_sha256=logo.sha256)
    assert first.positions
    assert first.settings is not None
    assert (first.settings.primary, first.settings.on_primary) == ("#003da5", "#ffffff")
    assert ledger.themes.set(P, primary="#003da5", display_name="ACME", logo_sha256=logo.sha256).positions == ()
    ledger.themes.set(P, primary="#7a1f1f", font="humanist")
    assert ledger.themes.clear(P).positions
    assert ledger.themes.clear(P).positions == ()
    assert ledger.themes.current(P) is None
    events = theme_events(ledger)
    assert [kind for kind, _ in events] == ["theme.set", "theme.changed", "theme.cleared"]
    assert events[0][1]["logo_sha256"] == logo.sha256
    assert events[0][1]["logo_media_type"] == "image/png"
    assert {e.partner_id for e in ledger.entries() if e.type.startswith("theme.")} == {P}  # the partner's own entries
    ledger.verify()


def test_a_primary_unreadable_on_white_is_refused_with_evidence(ledger: Ledger) -> None:
    with pytest.raises(ContrastTooLow) as refused:
        ledger.themes.set(P, primary="#FFCC00")
    details = refused.value.details
    assert details["field"] == "primary"
    assert details["ratio"] < AA_NORMAL_TEXT
    suggestion = Rgb.parse(details["suggestion"])
    assert suggestion is not None
    assert contrast_ratio(suggestion, WHITE) >= AA_NORMAL_TEXT
    ledger.themes.set(P, primary=details["suggestion"])  # the suggestion is accepted as it is
    assert theme_events(ledger)[0][1]["primary"] == details["suggestion"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"primary": "blue"}, "primary"),
        ({"primary": "#003da5", "font": "comic-sans"}, "font"),
        ({"primary": "#003da5", "display_name": ""}, "display_name"),
        ({"primary": "#003da5", "display_name": "x" * 101}, "display_name"),
        ({"primary": "#003da5", "logo_sha256": "ab" * 32}, "logo_sha256"),
        ({"primary": "#003da5", "logo_sha256": "not-a-digest"}, "logo_sha256"),
    ],
)
def test_invalid_settings_name_their_field(ledger: Ledger, fields: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        ledger.themes.set(P, **fields)
    assert refused.value.details["field"] == field
    assert theme_events(ledger) == []


def test_a_font_digest_must_name_a_font_and_a_logo_digest_a_logo(ledger: Ledger) -> None:
    font = ledger.themes.store_asset(P, AssetKind.FONT, woff2(2048))
    with pytest.raises(AssetRefused):
        ledger.themes.set(P, primary="#003da5", logo_sha256=font.sha256)
    result = ledger.themes.set(P, primary="#003da5", font=FontStack.TRANSITIONAL.value, font_sha256=font.sha256)
    assert result.settings is not None
    assert result.settings.font_family.startswith('"pq-partner", Charter')


def test_only_the_current_themes_files_are_served(ledger: Ledger) -> None:
    old = ledger.themes.store_asset(P, AssetKind.LOGO, SAFE_SVG)
    unused = ledger.themes.store_asset(P, AssetKind.LOGO, png(32, 32))
    ledger.themes.set(P, primary="#003da5", logo_sha256=old.sha256)
    assert ledger.themes.asset(P, old.sha256) == ("image/svg+xml", SAFE_SVG)
    with pytest.raises(NotFound):
        ledger.themes.asset(P, unused.sha256)  # uploaded, never applied: not public
    ledger.themes.set(P, primary="#003da5", logo_sha256=unused.sha256)
    with pytest.raises(NotFound):
        ledger.themes.asset(P, old.sha256)
    with pytest.raises(NotFound):
        ledger.themes.asset("someone_else", unused.sha256)


def test_unknown_partners_have_no_theme(ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        ledger.themes.set("nobody", primary="#003da5")
    with pytest.raises(NotFound):
        ledger.themes.store_asset("nobody", AssetKind.LOGO, png(32, 32))


@settings(max_examples=200, deadline=None)
@given(st.builds(Rgb, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
def test_every_accepted_primary_gives_readable_links_and_header(colour: Rgb) -> None:
    """Accepted iff 4.5:1 on white; then the header text colour also reaches 4.5:1 on the primary."""
    if contrast_ratio(colour, WHITE) < AA_NORMAL_TEXT:
        with pytest.raises(ContrastTooLow):
            check_primary(colour.hex)
        return
    primary, on_primary = check_primary(colour.hex.upper())
    assert primary == colour
    assert contrast_ratio(on_primary, primary) >= AA_NORMAL_TEXT
