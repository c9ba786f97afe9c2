"""Theme file stores on both backends: content-addressed, idempotent, bytes back exactly as stored."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.theme_files import png

from adapters.opening import open_ledger
from adapters.storage import StorageConfig, open_theme_assets
from ledger_core.partners.theme_assets import AssetKind, MemoryThemeAssets


def test_stores_by_digest_and_keeps_the_first_copy(database_url: str, tmp_path: Path) -> None:
    """A digest maps to one file: storing it again changes nothing; an unknown digest is None."""
    store = open_theme_assets(StorageConfig(tmp_path, database_url))
    try:
        data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
        digest = hashlib.sha256(data).hexdigest()
        assert store.get(digest) is None
        store.put(digest, "image/png", data)
        store.put(digest, "image/png", data)
        assert store.get(digest) == ("image/png", data)
        assert store.get("0" * 64) is None
    finally:
        store.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.binary(min_size=1, max_size=2048), max_size=6))
def test_database_store_answers_like_the_memory_store(files: list[bytes], database_url: str, tmp_path: Path) -> None:
    """Whatever is stored, the database store and the in-memory store give the same answers."""
    store, memory = open_theme_assets(StorageConfig(tmp_path, database_url)), MemoryThemeAssets()
    try:
        for data in files:
            digest = hashlib.sha256(data).hexdigest()
            store.put(digest, "font/woff2", data)
            memory.put(digest, "font/woff2", data)
        for data in files:
            digest = hashlib.sha256(data).hexdigest()
            assert store.get(digest) == memory.get(digest) == ("font/woff2", data)
    finally:
        store.close()


def test_a_theme_set_through_open_ledger_survives_reopening(database_url: str, tmp_path: Path) -> None:
    """open_ledger wires the backend's store: the theme (log) and its logo (theme_assets) are there after reopening."""
    config = StorageConfig(tmp_path, database_url)
    partner_id = f"p_{uuid.uuid4().hex[:10]}"
    with open_ledger(config, master_key=b"\x07" * 32) as ledger:
        ledger.partners.register(
            partner_id=partner_id, name="ACME", category="insurance_carrier", tier="standard", scopes=[]
        )
        logo = ledger.themes.store_asset(partner_id, AssetKind.LOGO, png(64, 32))
        ledger.themes.set(partner_id, primary="#003da5", logo_sha256=logo.sha256)
    with open_ledger(config, master_key=b"\x07" * 32) as reopened:
        settings = reopened.themes.current(partner_id)
        assert settings is not None
        assert settings.logo_sha256 == logo.sha256
        assert reopened.themes.asset(partner_id, logo.sha256) == ("image/png", png(64, 32))
