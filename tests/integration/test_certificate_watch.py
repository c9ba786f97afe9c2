"""Certificate expiry watch: stages, one ``audit.alert`` per certificate and stage, on every backend."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.certificates import expiring_in

from adapters.opening import open_ledger
from adapters.outbox import OutboxStore, payload_of
from adapters.storage import StorageConfig, open_outbox
from adapters.workers.certificate_watch import (
    CertificateRole,
    CertificateStage,
    WatchedCertificate,
    check_certificates,
    stage_of,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def outbox(tmp_path: Path, database_url: str) -> Iterator[OutboxStore]:
    config = StorageConfig(tmp_path, database_url)
    with open_ledger(config):
        store = open_outbox(config)
        with store.transaction() as tx:
            tx.upsert_endpoint("acme", "ops", "http://127.0.0.1:9/hooks", ["audit.alert"], "s1")
        try:
            yield store
        finally:
            store.close()


def alerts(store: OutboxStore) -> list[dict[str, Any]]:
    """The payloads of every pending delivery (claimed, as the dispatcher would)."""
    now = NOW.timestamp() + 10 * 86400
    with store.transaction() as tx:
        return [payload_of(due.body) for due in tx.claim_due(now, 100, now + 60)]


def test_expiring_and_expired_certificates_alert_once(outbox: OutboxStore) -> None:
    """A certificate 10 days from expiry and an expired one each raise one alert; re-checking raises none."""
    watched = [
        WatchedCertificate("acme", "okta", CertificateRole.IDP, expiring_in("idp-soon", NOW, 10)),
        WatchedCertificate("acme", "okta", CertificateRole.IDP, expiring_in("idp-gone", NOW, -1)),
        WatchedCertificate("acme", "okta", CertificateRole.IDP, expiring_in("idp-fine", NOW, 200)),
        WatchedCertificate("acme", "ledger", CertificateRole.SP, expiring_in("sp-soon", NOW, 29)),
    ]
    first = check_certificates(outbox, watched, NOW)
    assert [s.stage for s in first] == [
        CertificateStage.EXPIRING,
        CertificateStage.EXPIRED,
        CertificateStage.OK,
        CertificateStage.EXPIRING,
    ]
    assert [s.alerted for s in first] == [True, True, False, True]
    again = check_certificates(outbox, watched, NOW + timedelta(hours=1))
    assert not any(s.alerted for s in again)
    sent = alerts(outbox)
    assert sorted(p["data"]["alert"] for p in sent) == [
        "sso_certificate_expired",
        "sso_certificate_expiring",
        "sso_certificate_expiring",
    ]
    assert {p["type"] for p in sent} == {"audit.alert"}
    assert {p["data"]["certificate"] for p in sent} == {"idp", "sp"}
    assert first[0].fingerprint in {p["data"]["sha256_fingerprint"] for p in sent}


def test_an_expiring_certificate_alerts_again_when_it_expires(outbox: OutboxStore) -> None:
    """The 30-day alert and the expiry alert are two facts: both are raised, each once."""
    watched = [WatchedCertificate("acme", "okta", CertificateRole.IDP, expiring_in("idp", NOW, 5))]
    assert check_certificates(outbox, watched, NOW)[0].alerted
    later = check_certificates(outbox, watched, NOW + timedelta(days=6))[0]
    assert later.stage is CertificateStage.EXPIRED
    assert later.alerted
    assert later.seconds_left < 0


@given(days=st.floats(min_value=-400, max_value=400, allow_nan=False))
def test_stage_follows_the_thirty_day_window(days: float) -> None:
    """``expired`` after notAfter, ``expiring`` within 30 days before it, ``ok`` before that."""
    not_after = NOW + timedelta(days=days)
    stage = stage_of(not_after, NOW)
    left = not_after - NOW  # timedelta resolution: microseconds
    if left < timedelta(0):
        assert stage is CertificateStage.EXPIRED
    elif left <= timedelta(days=30):
        assert stage is CertificateStage.EXPIRING
    else:
        assert stage is CertificateStage.OK


def test_two_workers_watching_together_alert_once(tmp_path: Path, database_url: str) -> None:
    """Two server workers checking the same certificate at the same moment raise one delivery, not two."""
    config = StorageConfig(tmp_path, database_url)
    watched = [WatchedCertificate("acme", "okta", CertificateRole.IDP, expiring_in("idp", NOW, 3))]
    with open_ledger(config):
        stores = [open_outbox(config), open_outbox(config)]
        with stores[0].transaction() as tx:
            tx.upsert_endpoint("acme", "ops", "http://127.0.0.1:9/hooks", ["audit.alert"], "s1")
        barrier = threading.Barrier(2)
        results: list[bool] = []

        def worker(store: OutboxStore) -> None:
            barrier.wait()
            results.extend(status.alerted for status in check_certificates(store, watched, NOW))

        threads = [threading.Thread(target=worker, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            assert sorted(results) == [False, True]
            assert len(alerts(stores[0])) == 1
        finally:
            for store in stores:
                store.close()
