"""The GCS transport against a real local GCS server (gcp-storage-emulator on loopback, tests/support/gcs.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import storage
from support.gcs import GcsEmulator, gcs_emulator

from adapters.feed_exchange import BucketFailure, BucketFailureKind, GcsBucket, RetryPolicy
from adapters.feeds.folders import FeedFolders
from adapters.feeds.gcs_client import GcsTransfer

CSV = b"partner_member_id\n1\n"
ELIGIBILITY = "eligibility_acme_20260115.csv"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsEmulator]:
    with gcs_emulator(tmp_path_factory.mktemp("gcs")) as running:
        yield running


@pytest.fixture
def bucket(emulator: GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> storage.Bucket:
    """A new bucket on the emulator (google-cloud-storage pointed at it by ``STORAGE_EMULATOR_HOST``)."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.endpoint)
    return storage.Client().create_bucket(f"partner-{uuid.uuid4().hex[:12]}")


def _names(bucket: storage.Bucket) -> list[str]:
    return sorted(str(blob.name) for blob in bucket.client.list_blobs(bucket))


def _eligibility(name: str) -> bool:
    return name.startswith("eligibility_acme_")


def test_pull_once_move_to_processed_and_push(bucket: storage.Bucket, tmp_path: Path) -> None:
    bucket.blob(f"acme/inbound/{ELIGIBILITY}").upload_from_string(CSV)
    bucket.blob("acme/inbound/unrelated.txt").upload_from_string(b"x")
    bucket.blob("acme/inbound/nested/eligibility_acme_20260116.csv").upload_from_string(b"x")
    bucket.blob("other/inbound/eligibility_acme_20260117.csv").upload_from_string(b"x")
    folders = FeedFolders(tmp_path / "feeds")
    outgoing = tmp_path / "enrollment_acme_20260115.csv"
    outgoing.write_bytes(b"partner_member_id,enrollment_date\n")
    transfer = GcsTransfer("acme", GcsBucket(bucket.name))

    first = asyncio.run(transfer.pull("acme", folders, _eligibility))
    again = asyncio.run(transfer.pull("acme", folders, _eligibility))
    pushed = asyncio.run(transfer.push([outgoing]))

    assert (first, again, pushed) == ([ELIGIBILITY], [], ["enrollment_acme_20260115.csv"])
    assert folders.ready("acme") == [ELIGIBILITY]
    assert (folders.inbound("acme") / ELIGIBILITY).read_bytes() == CSV
    assert not list(folders.inbound("acme").glob(".*"))  # no temporary download left
    assert _names(bucket) == [
        "acme/inbound/nested/eligibility_acme_20260116.csv",
        "acme/inbound/unrelated.txt",
        "acme/outbound/enrollment_acme_20260115.csv",
        f"acme/processed/{ELIGIBILITY}",
        "other/inbound/eligibility_acme_20260117.csv",
    ]
    assert bucket.blob(f"acme/processed/{ELIGIBILITY}").download_as_bytes() == CSV
    assert bucket.blob("acme/outbound/enrollment_acme_20260115.csv").download_as_bytes() == outgoing.read_bytes()


def test_a_corrected_file_under_the_same_name_is_pulled_again(bucket: storage.Bucket, tmp_path: Path) -> None:
    folders = FeedFolders(tmp_path / "feeds")
    transfer = GcsTransfer("acme", GcsBucket(bucket.name))
    bucket.blob(f"acme/inbound/{ELIGIBILITY}").upload_from_string(CSV)
    assert asyncio.run(transfer.pull("acme", folders, _eligibility)) == [ELIGIBILITY]
    folders.take("acme", ELIGIBILITY)
    bucket.blob(f"acme/inbound/{ELIGIBILITY}").upload_from_string(CSV + b"2\n")  # a new generation
    assert asyncio.run(transfer.pull("acme", folders, _eligibility)) == [ELIGIBILITY]
    assert (folders.inbound("acme") / ELIGIBILITY).read_bytes() == CSV + b"2\n"
    assert bucket.blob(f"acme/processed/{ELIGIBILITY}").download_as_bytes() == CSV + b"2\n"


def test_a_pull_interrupted_before_the_move_is_finished_without_a_second_download(
    bucket: storage.Bucket, tmp_path: Path
) -> None:
    folders = FeedFolders(tmp_path / "feeds")
    blob = bucket.blob(f"acme/inbound/{ELIGIBILITY}")
    blob.upload_from_string(CSV)
    blob.reload()
    folders.pulled_list("acme").write_text(f"gs:{ELIGIBILITY}#{blob.generation}\n")  # recorded, then killed
    pulled = asyncio.run(GcsTransfer("acme", GcsBucket(bucket.name)).pull("acme", folders, _eligibility))
    assert pulled == []
    assert _names(bucket) == [f"acme/processed/{ELIGIBILITY}"]


def test_a_missing_bucket_is_refused_at_once_and_nothing_moves(bucket: storage.Bucket, tmp_path: Path) -> None:
    folders = FeedFolders(tmp_path / "feeds")
    bucket.blob(f"acme/inbound/{ELIGIBILITY}").upload_from_string(CSV)
    outgoing = tmp_path / "enrollment_acme_20260115.csv"
    outgoing.write_bytes(b"x\n")
    transfer = GcsTransfer("acme", GcsBucket(f"{bucket.name}-typo"), RetryPolicy(attempts=3, first_delay=0))
    with pytest.raises(BucketFailure) as pulling:
        asyncio.run(transfer.pull("acme", folders, _eligibility))
    with pytest.raises(BucketFailure) as pushing:
        asyncio.run(transfer.push([outgoing]))
    assert pulling.value.kind is pushing.value.kind is BucketFailureKind.NO_BUCKET
    assert pulling.value.message.startswith(f"gs://{bucket.name}-typo: no_such_bucket: NotFound")
    assert _names(bucket) == [f"acme/inbound/{ELIGIBILITY}"]
    assert folders.ready("acme") == []
    assert outgoing.exists()


def test_an_emulator_down_is_retried_then_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with gcs_emulator(tmp_path / "gcs") as down:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", down.endpoint)
        storage.Client().create_bucket("partner-down")
        down.stop()
        transfer = GcsTransfer("acme", GcsBucket("partner-down"), RetryPolicy(attempts=3, first_delay=0))
        with caplog.at_level("WARNING", logger="adapters.feeds.gcs_client"), pytest.raises(BucketFailure) as failed:
            asyncio.run(transfer.pull("acme", FeedFolders(tmp_path / "feeds"), _eligibility))
        assert failed.value.kind is BucketFailureKind.UNREACHABLE
        assert [r.getMessage().split(" to ")[0] for r in caplog.records] == ["gcs attempt 1", "gcs attempt 2"]
        down.start()  # back, with its data: the next pull works
        assert asyncio.run(transfer.pull("acme", FeedFolders(tmp_path / "feeds"), _eligibility)) == []


def test_no_credentials_in_the_environment_is_refused_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-service-account.json"))
    transfer = GcsTransfer("acme", GcsBucket("acme-exchange", project="acme-project"), RetryPolicy(first_delay=0))
    with pytest.raises(BucketFailure) as failed:
        asyncio.run(transfer.pull("acme", FeedFolders(tmp_path / "feeds"), _eligibility))
    assert failed.value.kind is BucketFailureKind.NO_CREDENTIALS
    assert "DefaultCredentialsError" in failed.value.message
