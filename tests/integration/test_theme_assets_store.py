"""Theme file stores on both backends: content-addressed, idempotent, bytes back exactly as stored."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.storage import StorageConfig, open_theme_assets
from ledger_core.partners.theme_assets import MemoryThemeAssets


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


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
