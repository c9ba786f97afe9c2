"""Settings survive the trip through the environment; version policies produce RFC 9745/8594 headers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.http.versioning import lifecycle_headers, policy_for, successor_link, version_of
from api.settings import Settings, VersionPolicy
from ledger_core.shared.vocabulary import TierLimits


def test_settings_round_trip_through_the_environment() -> None:
    """to_env then from_env gives back the same settings (workers are configured this way)."""
    settings = Settings(
        data_dir=Path("/srv/ledger"),
        database_url="postgresql://app@db/ledger",
        redis_url="redis://cache:6379/0",
        embedded_sealer=False,
        seal_wait_seconds=2.5,
        worker_threads=12,
        rate_limits={"sandbox": TierLimits(5, 2, None), "tight": TierLimits(60, 3, 100)},
        partner_policies={"acme": "tight"},
        previous_token_keys=(Path("/keys/old.pem"),),
        versions={"v1": VersionPolicy(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), False, "u")},
    )
    again = Settings.from_env(settings.to_env())
    assert again.storage == settings.storage
    assert (again.redis_url, again.embedded_sealer, again.seal_wait_seconds) == ("redis://cache:6379/0", False, 2.5)
    assert again.limits_for("tight") == TierLimits(60, 3, 100)
    assert again.worker_threads == 12
    assert again.limits_for("sandbox") == TierLimits(5, 2, None)
    assert again.limits_for("standard") == TierLimits(1000, 100, 100_000)  # defaults kept beside overrides
    assert again.partner_policies == {"acme": "tight"}
    assert again.previous_token_keys == (Path("/keys/old.pem"),)
    assert again.versions == settings.versions


def test_unset_environment_gives_the_embedded_defaults() -> None:
    """No LEDGER_* variables: SQLite in ./.ledger-data, embedded sealer, in-process stores."""
    settings = Settings.from_env({})
    assert settings.storage.backend == "sqlite"
    assert settings.embedded_sealer is True
    assert settings.redis_url is None
    assert settings.limits_for("enterprise") == TierLimits(10_000, 500, None)


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
