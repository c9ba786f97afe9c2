"""A partner's white-label theme (seed 001 §5.2-5.3, issue 17 item 3): primary colour, display name, logo, font.

The theme is its own small aggregate, ``derive_id("partner_theme", partner_id)``, whose events are the
record of every change: ``theme.set`` (first time), ``theme.changed``, ``theme.cleared``.
Setting the theme it already has records nothing. Logo and font bytes live in a content-addressed store
(:class:`~ledger_core.partners.ports.ThemeAssetStore`); the events record their SHA-256 digests.

Contrast (WCAG 2.1 SC 1.4.3, :mod:`ledger_core.partners.contrast`): the primary colour is used for links,
focus rings and secondary-button text on the white page, so a primary below 4.5:1 against white is
**refused** (:class:`ContrastTooLow`, with the measured ratio and the nearest darker shade that passes as a
suggestion). We refuse rather than adjust so the colour a partner sees on its pages is the colour it set,
and the log records exactly what it asked for. The text colour on the primary (``--pq-on-primary``:
header, primary buttons) is computed: white or near-black, whichever reaches 4.5:1.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.partners.contrast import AA_NORMAL_TEXT, WHITE, Rgb, contrast_ratio, darkest_needed, text_colour_on
from ledger_core.partners.ports import ThemeAssetStore
from ledger_core.partners.service import PartnerService
from ledger_core.partners.theme_assets import AssetKind, AssetRefused, ThemeAsset, inspect_asset
from ledger_core.shared.service_support import save
from ledger_core.shared.validation import check_partner_slug, check_sha256_hex, check_text, parse_choice

DISPLAY_NAME_MAX = 100


class FontStack(StrEnum):
    """The allow-listed font stacks: fonts already on the reader's device, nothing downloaded."""

    SYSTEM = "system"
    NEO_GROTESQUE = "neo-grotesque"
    HUMANIST = "humanist"
    GEOMETRIC = "geometric"
    TRANSITIONAL = "transitional"
    OLD_STYLE = "old-style"


FONT_STACKS: dict[FontStack, str] = {
    FontStack.SYSTEM: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    FontStack.NEO_GROTESQUE: 'Inter, Roboto, "Helvetica Neue", "Arial Nova", "Nimbus Sans", Arial, sans-serif',
    FontStack.HUMANIST: 'Seravek, "Gill Sans Nova", Ubuntu, Calibri, "DejaVu Sans", source-sans-pro, sans-serif',
    FontStack.GEOMETRIC: 'Avenir, Montserrat, Corbel, "URW Gothic", source-sans-pro, sans-serif',
    FontStack.TRANSITIONAL: 'Charter, "Bitstream Charter", "Sitka Text", Cambria, serif',
    FontStack.OLD_STYLE: '"Iowan Old Style", "Palatino Linotype", "URW Palladio L", P052, serif',
}


class ContrastTooLow(InvalidCommand):
    """The primary colour does not reach 4.5:1 against white (WCAG 2.1 SC 1.4.3); ``details``: field,
    colour, ratio (2 decimals, rounded down), required, suggestion (a darker shade that passes)."""

    def __init__(self, colour: Rgb) -> None:
        ratio = contrast_ratio(colour, WHITE)
        suggestion = darkest_needed(colour).hex
        super().__init__(
            f"primary {colour.hex} has contrast {ratio:.2f}:1 on white; WCAG 2.1 AA needs {AA_NORMAL_TEXT}:1"
            f" (try {suggestion})",
            field="primary",
            colour=colour.hex,
            ratio=int(ratio * 100) / 100,
            required=AA_NORMAL_TEXT,
            suggestion=suggestion,
        )


@dataclass(frozen=True, slots=True)
class ThemeSettings:
    """A checked theme as the log records it (``display_name`` None: the partner's registered name)."""

    primary: str
    on_primary: str
    display_name: str | None
    font: FontStack
    logo_sha256: str | None = None
    logo_media_type: str | None = None
    font_sha256: str | None = None

    def event_fields(self) -> dict[str, Any]:
        return {
            "primary": self.primary,
            "on_primary": self.on_primary,
            "display_name": self.display_name,
            "font": self.font.value,
            "logo_sha256": self.logo_sha256,
            "logo_media_type": self.logo_media_type,
            "font_sha256": self.font_sha256,
        }

    @property
    def font_family(self) -> str:
        """The CSS ``font-family`` value: the uploaded face (``pq-partner``) first when there is one."""
        stack = FONT_STACKS[self.font]
        return f'"pq-partner", {stack}' if self.font_sha256 else stack

    @property
    def digests(self) -> frozenset[str]:
        """The files this theme uses (the only ones its partner's pages may load)."""
        return frozenset(d for d in (self.logo_sha256, self.font_sha256) if d is not None)


def check_primary(value: Any) -> tuple[Rgb, Rgb]:
    """``(primary, text colour on it)`` for a ``#RRGGBB`` primary usable as text on white; raises otherwise."""
    colour = Rgb.parse(value)
    if colour is None:
        raise InvalidCommand("primary must be a colour #RRGGBB", field="primary", value=str(value)[:32])
    if contrast_ratio(colour, WHITE) < AA_NORMAL_TEXT:
        raise ContrastTooLow(colour)
    on_primary = text_colour_on(colour)
    if on_primary is None:  # cannot happen once the primary passes on white: white passes on it too
        raise ContrastTooLow(colour)
    return colour, on_primary


def _settings_of(fields: dict[str, Any]) -> ThemeSettings:
    """The settings an event's fields record."""
    return ThemeSettings(
        primary=fields["primary"],
        on_primary=fields["on_primary"],
        display_name=fields["display_name"],
        font=FontStack(fields["font"]),
        logo_sha256=fields["logo_sha256"],
        logo_media_type=fields["logo_media_type"],
        font_sha256=fields["font_sha256"],
    )


class PartnerTheme(LedgerAggregate):
    """The theme history of one partner; :attr:`settings` is the current theme (None once cleared)."""

    AGGREGATE_TYPE: ClassVar[str] = "Theme"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Set(Created):
        EVENT_TYPE: ClassVar[str] = "theme.set"
        primary: str
        on_primary: str
        display_name: str | None
        font: str
        logo_sha256: str | None
        logo_media_type: str | None
        font_sha256: str | None

    class Changed(Event):
        EVENT_TYPE: ClassVar[str] = "theme.changed"
        primary: str
        on_primary: str
        display_name: str | None
        font: str
        logo_sha256: str | None
        logo_media_type: str | None
        font_sha256: str | None

        def apply(self, aggregate: PartnerTheme) -> None:
            aggregate.settings = _settings_of(self.__dict__)

    class Cleared(Event):
        EVENT_TYPE: ClassVar[str] = "theme.cleared"

        def apply(self, aggregate: PartnerTheme) -> None:
            aggregate.settings = None

    def __init__(  # the fields of partner.theme_set, by name (eventsourcing passes them so)
        self,
        partner_id: str | None,
        primary: str,
        on_primary: str,
        display_name: str | None,
        font: str,
        logo_sha256: str | None,
        logo_media_type: str | None,
        font_sha256: str | None,
    ) -> None:
        self.partner_id = partner_id
        self.settings: ThemeSettings | None = ThemeSettings(
            primary, on_primary, display_name, FontStack(font), logo_sha256, logo_media_type, font_sha256
        )

    @classmethod
    def start(cls, partner_id: str, settings: ThemeSettings) -> PartnerTheme:
        return cls._create(
            cls.Set, id=derive_id("partner_theme", partner_id), partner_id=partner_id, **settings.event_fields()
        )

    def change(self, settings: ThemeSettings) -> None:
        if settings != self.settings:
            self.trigger_event(self.Changed, **settings.event_fields())

    def clear(self) -> None:
        if self.settings is not None:
            self.trigger_event(self.Cleared)


@dataclass(frozen=True, slots=True)
class ThemeResult:
    """The partner's theme after a command (None: no theme) and the log positions it recorded (may be empty)."""

    partner_id: str
    settings: ThemeSettings | None
    positions: tuple[int, ...]


class PartnerThemes:
    """Theme use cases shared by the CLI, the operations API and the pages."""

    def __init__(self, app: LedgerApplication, partners: PartnerService, assets: ThemeAssetStore) -> None:
        self.app = app
        self.partners = partners
        self.assets = assets

    def store_asset(self, partner_id: str, kind: AssetKind, data: bytes, declared: str | None = None) -> ThemeAsset:
        """Check and keep a logo or font file of an existing partner; the digest goes into :meth:`set` next."""
        self.partners.get(partner_id)
        asset = inspect_asset(kind, data, declared)
        self.assets.put(asset.sha256, asset.media_type.value, data)
        return asset

    def set(
        self,
        partner_id: str,
        *,
        primary: str,
        display_name: str | None = None,
        font: str = FontStack.SYSTEM.value,
        logo_sha256: str | None = None,
        font_sha256: str | None = None,
    ) -> ThemeResult:
        """Replace the partner's theme (every field; files by the digest :meth:`store_asset` returned)."""
        slug = check_partner_slug(partner_id)
        self.partners.get(slug)
        colour, on_primary = check_primary(primary)
        logo_type = self._stored(AssetKind.LOGO, logo_sha256)
        self._stored(AssetKind.FONT, font_sha256)
        settings = ThemeSettings(
            primary=colour.hex,
            on_primary=on_primary.hex,
            display_name=None
            if display_name is None
            else check_text(display_name, "display_name", max_length=DISPLAY_NAME_MAX),
            font=parse_choice(FontStack, font, "font"),
            logo_sha256=logo_sha256,
            logo_media_type=logo_type,
            font_sha256=font_sha256,
        )
        theme = self._find(slug)
        if theme is None:
            theme = PartnerTheme.start(slug, settings)
        else:
            theme.change(settings)
        return ThemeResult(slug, theme.settings, save(self.app, theme))

    def clear(self, partner_id: str) -> ThemeResult:
        """Back to the house defaults (``theme.cleared``; nothing when there is no theme)."""
        self.partners.get(partner_id)
        theme = self._find(partner_id)
        if theme is None:
            return ThemeResult(partner_id, None, ())
        theme.clear()
        return ThemeResult(partner_id, None, save(self.app, theme))

    def current(self, partner_id: str) -> ThemeSettings | None:
        """The partner's theme, or None (house defaults)."""
        theme = self._find(partner_id)
        return None if theme is None else theme.settings

    def asset(self, partner_id: str, sha256: str) -> tuple[str, bytes]:
        """``(media type, bytes)`` of a file the partner's current theme uses; any other digest is not found."""
        settings = self.current(partner_id)
        found = self.assets.get(sha256) if settings is not None and sha256 in settings.digests else None
        if found is None:
            raise NotFound("theme_asset", sha256)
        return found

    def _find(self, partner_id: str) -> PartnerTheme | None:
        return self.app.find(PartnerTheme, derive_id("partner_theme", partner_id))

    def _stored(self, kind: AssetKind, sha256: str | None) -> str | None:
        """The media type of a stored ``kind`` file (None for no file); raises when unknown or of another kind."""
        if sha256 is None:
            return None
        field = f"{kind.value}_sha256"
        found = self.assets.get(check_sha256_hex(sha256, field))
        if found is None:
            raise AssetRefused(field, f"no {kind.value} file with this digest was uploaded", sha256=sha256)
        checked = inspect_asset(kind, found[1])
        return checked.media_type.value
