"""A Google Cloud Storage bucket as a partner's transport (issue 15 item 4), through google-cloud-storage.

::

    gs://<bucket>/<partner>/inbound/<name>      the partner drops files here (we pull them)
    gs://<bucket>/<partner>/processed/<name>    where a pulled file is moved once our copy is safe
    gs://<bucket>/<partner>/outbound/<name>     reports, enrollment and outcome files (we push them)

Credentials come from the environment as Google's libraries expect: Application Default Credentials
(``GOOGLE_APPLICATION_CREDENTIALS``, the metadata server, ``gcloud auth application-default login``), or
``STORAGE_EMULATOR_HOST`` for an emulator (anonymous). Nothing is stored by the ledger.

**Pull** (the same contract as :mod:`adapters.feeds.sftp_client`): each object directly under ``inbound/``
whose name matches is downloaded at its generation (the exact bytes that were listed, checked against the
object's CRC32C by the library) to a hidden temporary name in the partner's local inbound folder, renamed
into place, marked ready, and recorded in the partner's pulled list as ``gs:<name>#<generation>`` (so a
file is pulled once, and a partner re-uploading a corrected file under the same name is pulled again).
Only then is it moved to ``processed/`` (copy, then a delete conditioned on that generation: an object
overwritten meanwhile is never deleted unread). A crash between the record and the move is finished on
the next pull.

**Push**: each outbound file is uploaded to ``outbound/<name>`` (an object appears only whole, so no
temporary name is needed; a later file of the same name replaces it), in resumable chunks of
:data:`UPLOAD_CHUNK`. Memory stays constant both ways (docs/performance.md, "GCS transport").

Connection failures, timeouts, 429 and 5xx answers are retried with exponential backoff
(:class:`RetryPolicy`); a missing bucket, refused or missing credentials are not. Either way the caller
gets a :class:`BucketFailure` and raises ``audit.alert``; nothing is lost (see there).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import google.auth.exceptions
import requests
from google.api_core import exceptions as api_errors
from google.cloud import storage
from google.resumable_media import DataCorruption, InvalidResponse

from adapters.feed_exchange import (
    BucketFailure,
    BucketFailureKind,
    FeedFolderStore,
    GcsBucket,
    RetryPolicy,
    check_file_name,
)
from ledger_core.engine.errors import InvalidCommand

log = logging.getLogger("adapters.feeds.gcs_client")
T = TypeVar("T")

__all__ = ["GcsTransfer", "permanent_failure"]

READ_TIMEOUT = 120.0
"""Seconds without a byte before a request is abandoned (and retried)."""
UPLOAD_CHUNK = 8 << 20
"""Bytes per request of a resumable upload (a multiple of 256 KiB): what a push holds in memory (the library's
default, 100 MiB, would be held whole). Downloads stream to the file without a chunk size (and so keep the
library's CRC32C check)."""

_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    api_errors.ServerError,
    api_errors.TooManyRequests,
    google.auth.exceptions.TransportError,
    InvalidResponse,
    DataCorruption,
)


def permanent_failure(error: Exception) -> BucketFailureKind | None:
    """The kind of a failure that retrying cannot cure (None: transient or unknown)."""
    if isinstance(error, google.auth.exceptions.DefaultCredentialsError):
        return BucketFailureKind.NO_CREDENTIALS
    if isinstance(error, api_errors.NotFound):
        return BucketFailureKind.NO_BUCKET
    if isinstance(error, api_errors.Unauthorized | api_errors.Forbidden | google.auth.exceptions.RefreshError):
        return BucketFailureKind.FORBIDDEN
    if isinstance(error, api_errors.ClientError) and not isinstance(error, api_errors.TooManyRequests):
        return BucketFailureKind.REFUSED
    return None


class GcsTransfer:
    """Pull from and push to one partner's folders in a bucket (a :class:`RemoteTransfer`)."""

    def __init__(self, partner_id: str, bucket: GcsBucket, retry: RetryPolicy | None = None) -> None:
        self.partner_id = partner_id
        self.bucket = bucket
        self.retry = retry or RetryPolicy()
        self._timeout = (self.retry.connect_timeout, READ_TIMEOUT)

    async def _with_bucket(self, action: Callable[[storage.Bucket], T]) -> T:
        """Run ``action`` (blocking, in a thread) on a fresh client's bucket, with the retry policy."""
        delay = self.retry.first_delay
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return await asyncio.to_thread(self._run, action)
            except (google.auth.exceptions.GoogleAuthError, api_errors.GoogleAPICallError, *_TRANSIENT) as error:
                kind = permanent_failure(error)
                if kind is not None:
                    raise BucketFailure(self.bucket.bucket, kind, _detail(error)) from error
                if attempt == self.retry.attempts:
                    raise BucketFailure(self.bucket.bucket, BucketFailureKind.UNREACHABLE, _detail(error)) from error
                log.warning("gcs attempt %d to gs://%s failed (%s); retrying", attempt, self.bucket.bucket, error)
                await asyncio.sleep(delay)
                delay *= self.retry.factor
        raise BucketFailure(self.bucket.bucket, BucketFailureKind.UNREACHABLE, "no attempt made")

    def _run(self, action: Callable[[storage.Bucket], T]) -> T:
        client = storage.Client(project=self.bucket.project)
        try:
            return action(client.bucket(self.bucket.bucket))
        finally:
            client.close()

    async def pull(self, partner_id: str, folders: FeedFolderStore, pattern: Callable[[str], bool]) -> list[str]:
        """Download new objects of ``inbound/`` whose names match ``pattern`` into the partner's inbound folder,
        marked ready, then move them to ``processed/``; the names pulled."""
        if partner_id != self.partner_id:
            raise InvalidCommand(f"this transfer is for partner {self.partner_id}", field="partner")
        inbound = folders.inbound(partner_id)
        inbound.mkdir(parents=True, exist_ok=True)
        journal = folders.pulled_list(partner_id)
        prefix = self.bucket.prefix(partner_id, "inbound")
        pulled: list[str] = []  # across attempts: a retry after a partial pull reports the earlier files too

        def action(bucket: storage.Bucket) -> list[str]:
            seen = set(journal.read_text().splitlines()) if journal.exists() else set()
            listing = bucket.client.list_blobs(bucket, prefix=prefix, delimiter="/", retry=None, timeout=self._timeout)
            for blob in sorted(listing, key=lambda b: str(b.name)):
                name = str(blob.name)[len(prefix) :]
                if not pattern(name) or not _plain(name):
                    continue
                entry = f"gs:{name}#{blob.generation}"
                if entry not in seen:
                    self._download(bucket, blob, inbound / name)
                    folders.mark_ready(partner_id, name)
                    with journal.open("a") as handle:
                        handle.write(entry + "\n")
                    pulled.append(name)
                self._move_to_processed(bucket, blob, name)
            return pulled

        return await self._with_bucket(action)

    def _download(self, bucket: storage.Bucket, blob: storage.Blob, target: Path) -> None:
        temporary = target.with_name(f".{target.name}.part")
        exact = bucket.blob(blob.name, generation=blob.generation)
        try:
            exact.download_to_filename(str(temporary), retry=None, timeout=self._timeout, checksum="auto")
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    def _move_to_processed(self, bucket: storage.Bucket, blob: storage.Blob, name: str) -> None:
        """Copy to ``processed/`` and delete the inbound object if it is still the generation we read."""
        target = self.bucket.prefix(self.partner_id, "processed") + name
        bucket.copy_blob(blob, bucket, target, source_generation=blob.generation, retry=None, timeout=self._timeout)
        try:
            bucket.delete_blob(blob.name, if_generation_match=blob.generation, retry=None, timeout=self._timeout)
        except (api_errors.PreconditionFailed, api_errors.NotFound):
            log.info("gs://%s/%s changed or went away after it was pulled; left as it is", bucket.name, blob.name)

    async def waiting(self) -> int:
        """How many objects lie directly in ``inbound/`` (whatever their names): a check of the bucket and the
        credentials that changes nothing."""
        prefix = self.bucket.prefix(self.partner_id, "inbound")

        def action(bucket: storage.Bucket) -> int:
            listing = bucket.client.list_blobs(bucket, prefix=prefix, delimiter="/", retry=None, timeout=self._timeout)
            return sum(1 for _ in listing)

        return await self._with_bucket(action)

    async def push(self, files: Sequence[Path]) -> list[str]:
        """Upload ``files`` to ``outbound/`` (whole objects); the names pushed."""
        prefix = self.bucket.prefix(self.partner_id, "outbound")

        def action(bucket: storage.Bucket) -> list[str]:
            pushed: list[str] = []
            for path in files:
                blob = bucket.blob(prefix + check_file_name(path.name), chunk_size=UPLOAD_CHUNK)
                blob.upload_from_filename(str(path), retry=None, timeout=self._timeout, checksum="auto")
                pushed.append(path.name)
            return pushed

        return await self._with_bucket(action)


def _plain(name: str) -> bool:
    """Whether ``name`` is a feed file name (objects with other names are left alone, with a warning)."""
    try:
        check_file_name(name)
    except InvalidCommand:
        log.warning("inbound object %r is not a feed file name; left in the bucket", name)
        return False
    return True


def _detail(error: Exception) -> str:
    """A short description of ``error`` (its class and first line, never a response body)."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:300]
