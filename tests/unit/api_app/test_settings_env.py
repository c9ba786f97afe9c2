"""Every settings field reads back from its ``LEDGER_*`` variable, parsed by the field's type (a field added
with a new type, or a scalar read as text, fails here instead of in a worker started by ``ledger serve``)."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest

from adapters.storage import ClaimFactsMode
from api.settings import _SECTIONS, Settings, _field_types


def _other_value(kind: Any, default: Any) -> Any:
    """A value of ``kind`` other than ``default``."""
    if kind is bool:
        return not default
    if kind in (int, float):
        return (default or 0) + 7
    if kind is Path:
        return Path("/srv/elsewhere")
    if kind is str:
        return f"{default or ''}-changed"
    if kind is ClaimFactsMode:
        return ClaimFactsMode.MEMORY if default is not ClaimFactsMode.MEMORY else ClaimFactsMode.TABLE
    return None  # mappings and tuples: covered by the round trip in test_settings_versioning.py


@pytest.mark.parametrize("section_name", sorted(_SECTIONS))
def test_every_scalar_field_round_trips_through_its_variable(section_name: str) -> None:
    section_type = _SECTIONS[section_name]
    defaults = section_type()
    changed: dict[str, Any] = {}
    for item in fields(section_type):
        value = _other_value(_field_types(section_type)[item.name], getattr(defaults, item.name))
        if value is not None:
            changed[item.name] = value
    assert changed, "a section with no scalar field"
    settings = replace(Settings(), **{section_name: section_type(**changed)})
    again = getattr(Settings.from_env(settings.to_env()), section_name)
    assert {name: getattr(again, name) for name in changed} == changed


def test_a_boolean_variable_reads_zero_as_false() -> None:
    """``"0"`` is false for every boolean (LEDGER_TILE_ENTRIES_PUBLIC was once read as text: true)."""
    assert not Settings.from_env({"LEDGER_TILE_ENTRIES_PUBLIC": "0"}).sealing.public_entries
    assert not Settings.from_env({"LEDGER_EMBEDDED_SEALER": "0"}).sealing.embedded
    assert Settings.from_env({"LEDGER_SFTP_ENABLED": " Yes "}).feeds.sftp_enabled
