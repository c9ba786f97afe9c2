"""The per-process memory settings of the soak (docs/performance.md, "Soak: a smaller aggregate cache" and
"Soak: malloc trimming"): the aggregate cache's bound and the periodic ``malloc_trim``."""

from __future__ import annotations

import logging
import platform
import threading
from pathlib import Path

import pytest

from adapters.workers.malloc_trim import glibc_malloc_trim, start_malloc_trim
from api.http.observability import Metrics
from api.runtime import open_runtime
from api.settings import HttpSection, Settings, StorageSection
from ledger_core.engine.application import DEFAULT_AGGREGATE_CACHE_SIZE

LOG = logging.getLogger("test.malloc_trim")


def test_both_settings_come_from_the_environment_and_go_back_to_it() -> None:
    settings = Settings.from_env({"LEDGER_AGGREGATE_CACHE_SIZE": "1500", "LEDGER_MALLOC_TRIM_SECONDS": "12.5"})
    assert settings.storage.aggregate_cache_size == 1500
    assert settings.http.malloc_trim_seconds == 12.5
    again = Settings.from_env(settings.to_env())
    assert (again.storage.aggregate_cache_size, again.http.malloc_trim_seconds) == (1500, 12.5)
    defaults = Settings.from_env({})
    assert defaults.storage.aggregate_cache_size == DEFAULT_AGGREGATE_CACHE_SIZE
    assert defaults.http.malloc_trim_seconds == 30.0


def test_a_server_process_trims_and_sizes_its_cache_as_configured(tmp_path: Path) -> None:
    """The runtime every API worker opens starts the trim thread and stops it when closed; its ledger's
    aggregate cache has the configured bound."""
    settings = Settings(
        storage=StorageSection(data_dir=tmp_path / "data", aggregate_cache_size=123),
        http=HttpSection(malloc_trim_seconds=3600),
    )
    runtime = open_runtime(settings, Metrics())
    try:
        assert any(thread.name == "malloc-trim" for thread in threading.enumerate())
        cache = runtime.ledger.app.repository.cache
        assert cache is not None
        assert getattr(cache, "maxsize", None) == 123
    finally:
        runtime.close()
    assert not any(thread.name == "malloc-trim" for thread in threading.enumerate())


def test_the_trim_task_trims_at_once_then_every_interval_until_stopped() -> None:
    """Three passes counted (the first at start), then stopping ends the thread: no pass after it."""
    calls: list[int] = []
    third = threading.Event()

    def fake_trim(pad: int) -> int:
        calls.append(pad)
        if len(calls) == 3:
            third.set()
        return 1 if len(calls) == 1 else 0  # memory released on the first pass only

    trimmer, stop = start_malloc_trim(0.001, LOG, trim=fake_trim)
    assert trimmer is not None
    assert third.wait(30)
    stop()
    passes = trimmer.passes
    assert passes >= 3
    assert trimmer.released == 1
    assert set(calls) == {0}  # malloc_trim(0): keep no padding at the top of the heap
    assert not any(thread.name == "malloc-trim" for thread in threading.enumerate())
    assert trimmer.passes == passes


def test_no_task_when_switched_off() -> None:
    trimmer, stop = start_malloc_trim(0, LOG, trim=lambda _pad: 1)
    assert trimmer is None
    stop()
    assert not any(thread.name == "malloc-trim" for thread in threading.enumerate())


def test_no_task_without_malloc_trim_in_the_c_library(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("adapters.workers.malloc_trim.glibc_malloc_trim", lambda: None)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        trimmer, stop = start_malloc_trim(60, LOG)
    stop()
    assert trimmer is None
    assert "malloc_trim is not available" in caplog.text


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibcs_malloc_trim_is_found_and_answers() -> None:
    trim = glibc_malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)


@pytest.mark.parametrize("raw", ["0", "false", "no", "off"])
def test_tile_entries_stay_private_when_the_environment_says_so(raw: str) -> None:
    """``LEDGER_TILE_ENTRIES_PUBLIC`` is a boolean: "0" was read as the string "0" (truthy), and ``ledger serve
    --workers N`` hands its settings to the workers through the environment, so every partner's entries were
    served to anyone by default there (found writing the round trip above)."""
    assert Settings.from_env({"LEDGER_TILE_ENTRIES_PUBLIC": raw}).sealing.public_entries is False
    assert Settings.from_env({"LEDGER_TILE_ENTRIES_PUBLIC": "1"}).sealing.public_entries is True
    assert Settings.from_env(Settings().to_env()) == Settings()
