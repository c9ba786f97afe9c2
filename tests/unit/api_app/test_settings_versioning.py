"""Settings survive the trip through the environment; version policies produce RFC 9745/8594 headers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.storage import ClaimFactsMode, StorageConfig
from api.http.versioning import lifecycle_headers, policy_for, successor_link, version_of
from api.settings import HttpSection, SealingSection, SecuritySection, Settings, StorageSection, VersionPolicy
from ledger_core.shared.vocabulary import TierLimits


def test_settings_round_trip_through_the_environment() -> None:
    """to_env then from_env gives back the same settings (workers are configured this way)."""
    settings = Settings(
        storage=StorageSection(
            data_dir=Path("/srv/ledger"),
            database_url="postgresql://app@db/ledger",
            redis_url="redis://cache:6379/0",
            claim_facts=ClaimFactsMode.TABLE,
        ),
        sealing=SealingSection(embedded=False, wait_seconds=2.5),
        http=HttpSection(
            worker_threads=12,
            worker_healthcheck_seconds=45,
            rate_limits={"sandbox": TierLimits(5, 2, None), "tight": TierLimits(60, 3, 100)},
            partner_policies={"acme": "tight"},
            versions={
                "v1": VersionPolicy(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), False, "u")
            },
        ),
        security=SecuritySection(previous_token_keys=(Path("/keys/old.pem"),)),
    )
    again = Settings.from_env(settings.to_env())
    assert again.storage == settings.storage
    assert again.storage.config == settings.storage.config
    assert again.storage.config.facts_mode is ClaimFactsMode.TABLE  # as set, not the default
    assert (again.storage.redis_url, again.sealing.embedded, again.sealing.wait_seconds) == (
        "redis://cache:6379/0",
        False,
        2.5,
    )
    assert again.http.limits_for("tight") == TierLimits(60, 3, 100)
    assert again.http.worker_threads == 12
    assert again.http.worker_healthcheck_seconds == 45
    assert again.http.limits_for("sandbox") == TierLimits(5, 2, None)
    assert again.http.limits_for("standard") == TierLimits(1000, 100, 100_000)  # defaults kept beside overrides
    assert again.http.partner_policies == {"acme": "tight"}
    assert again.security.previous_token_keys == (Path("/keys/old.pem"),)
    assert again.http.versions == settings.http.versions


def test_every_environment_variable_keeps_its_name() -> None:
    """The sections changed the attribute paths, not the LEDGER_* names operators already set."""
    names = set(Settings().to_env())
    assert {
        "LEDGER_DATA_DIR",
        "LEDGER_EMBEDDED_SEALER",
        "LEDGER_SEAL_BATCH_ENTRIES",
        "LEDGER_SEAL_INTERVAL_MS",
        "LEDGER_SEAL_WAIT_SECONDS",
        "LEDGER_SEAL_POLL_SECONDS",
        "LEDGER_READY_MAX_SEAL_LAG",
        "LEDGER_EMBEDDED_WEBHOOKS",
        "LEDGER_WEBHOOK_TIMEOUT_SECONDS",
        "LEDGER_WEBHOOK_RETRY_SCALE",
        "LEDGER_WEBHOOK_MAX_IN_FLIGHT",
        "LEDGER_WEBHOOK_HTTP_CLIENT",
        "LEDGER_ISSUER",
        "LEDGER_AUDIENCE",
        "LEDGER_MAX_BODY_BYTES",
        "LEDGER_RATE_LIMITS",
        "LEDGER_RESTRICTED_STATES",
        "LEDGER_OUTCOME_SUPPRESSION_THRESHOLD",
        "LEDGER_WORKER_THREADS",
        "LEDGER_WORKER_HEALTHCHECK_SECONDS",
    } <= names
    assert all(name.startswith("LEDGER_") and name.isupper() for name in names)
    configured = Settings.from_env({"LEDGER_WEBHOOK_TIMEOUT_SECONDS": "7.5", "LEDGER_SEAL_INTERVAL_MS": "20"})
    assert (configured.webhooks.timeout_seconds, configured.sealing.interval_ms) == (7.5, 20)


def test_unset_environment_gives_the_embedded_defaults() -> None:
    """No LEDGER_* variables: SQLite in ./.ledger-data, embedded sealer, in-process stores."""
    settings = Settings.from_env({})
    assert settings.storage.config.backend == "sqlite"
    assert settings.sealing.embedded is True
    assert settings.storage.redis_url is None
    assert settings.http.limits_for("enterprise") == TierLimits(10_000, 500, None)


def test_private_webhook_targets_only_on_the_embedded_default_unless_set() -> None:
    """The SSRF guard is off on a developer's embedded SQLite, on for a server deployment, else as set."""
    assert Settings.from_env({}).webhooks_may_target_private
    server = Settings.from_env({"LEDGER_DATABASE_URL": "postgresql://db/ledger"})
    assert not server.webhooks_may_target_private
    allowed = Settings.from_env(
        {"LEDGER_DATABASE_URL": "postgresql://db/ledger", "LEDGER_WEBHOOK_ALLOW_PRIVATE_TARGETS": "1"}
    )
    assert allowed.webhooks_may_target_private
    assert not Settings.from_env({"LEDGER_WEBHOOK_ALLOW_PRIVATE_TARGETS": "0"}).webhooks_may_target_private


def test_claim_facts_default_and_parsed_strictly() -> None:
    """The tables by default on both backends; the variable wins; typos refused."""
    assert Settings.from_env({}).storage.config.facts_mode is ClaimFactsMode.TABLE
    server = {"LEDGER_DATABASE_URL": "postgresql://db/ledger"}
    assert Settings.from_env(server).storage.config.facts_mode is ClaimFactsMode.TABLE
    chosen = Settings.from_env({**server, "LEDGER_CLAIM_FACTS": " Memory "})
    assert chosen.storage.config.facts_mode is ClaimFactsMode.MEMORY
    assert Settings.from_env({"LEDGER_CLAIM_FACTS": "memory"}).storage.config.facts_mode is ClaimFactsMode.MEMORY
    with pytest.raises(ValueError, match="LEDGER_CLAIM_FACTS must be table or memory"):
        Settings.from_env({"LEDGER_CLAIM_FACTS": "tables"})


def test_a_cli_config_follows_the_claim_facts_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command's StorageConfig (built from flags) takes LEDGER_CLAIM_FACTS too; a configured value wins."""
    monkeypatch.setenv("LEDGER_CLAIM_FACTS", "table")
    assert StorageConfig(Path("/srv/ledger")).facts_mode is ClaimFactsMode.TABLE
    assert StorageConfig(Path("/srv/ledger"), claim_facts=ClaimFactsMode.MEMORY).facts_mode is ClaimFactsMode.MEMORY
    monkeypatch.setenv("LEDGER_CLAIM_FACTS", "tabel")
    with pytest.raises(ValueError, match="tabel"):
        _ = StorageConfig(Path("/srv/ledger")).facts_mode


def test_sunset_never_precedes_deprecation() -> None:
    """RFC 9745: a Sunset date earlier than the Deprecation date is refused."""
    with pytest.raises(ValueError, match="Sunset"):
        VersionPolicy(datetime(2027, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))


def test_lifecycle_headers_follow_the_rfcs() -> None:
    """Deprecation is @epoch-seconds, Sunset an HTTP-date, both linked to the migration guide."""
    policy = VersionPolicy(datetime(2026, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC), False, "https://m")
    assert lifecycle_headers(policy) == [
        ("Deprecation", "@1767225600"),
        ("Link", '<https://m>; rel="deprecation"'),
        ("Sunset", "Wed, 01 Jan 2031 00:00:00 GMT"),
        ("Link", '<https://m>; rel="sunset"'),
    ]
    assert lifecycle_headers(VersionPolicy()) == []
    assert successor_link(VersionPolicy(retired=True, migration="https://n")) == [
        ("Link", '<https://n>; rel="successor-version"')
    ]


def test_versions_are_read_from_the_path() -> None:
    """Only /api/vN/... paths have a version."""
    assert version_of("/api/v1/claims") == "v1"
    assert version_of("/api/v12") == "v12"
    assert version_of("/health") is None
    assert version_of("/api/vx/claims") is None
    assert policy_for("/api/v2/x", {"v1": VersionPolicy()}) is None
