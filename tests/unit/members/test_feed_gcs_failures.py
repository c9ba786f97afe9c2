"""Which GCS failures are retried and which are reported at once (adapters/feeds/gcs_client.py); the retries
themselves run against a real emulator in tests/integration/feeds/test_gcs_client.py."""

from __future__ import annotations

import google.auth.exceptions
import pytest
import requests
from google.api_core import exceptions as api_errors

from adapters.feed_exchange import BucketFailureKind
from adapters.feeds.gcs_client import permanent_failure


@pytest.mark.parametrize(
    ("error_class", "kind"),
    [
        (google.auth.exceptions.DefaultCredentialsError, BucketFailureKind.NO_CREDENTIALS),
        (api_errors.NotFound, BucketFailureKind.NO_BUCKET),
        (api_errors.Forbidden, BucketFailureKind.FORBIDDEN),
        (api_errors.Unauthorized, BucketFailureKind.FORBIDDEN),
        (google.auth.exceptions.RefreshError, BucketFailureKind.FORBIDDEN),
        (api_errors.BadRequest, BucketFailureKind.REFUSED),
        (api_errors.TooManyRequests, None),
        (api_errors.ServiceUnavailable, None),
        (requests.ConnectionError, None),
        (requests.Timeout, None),
    ],
)
def test_permanent_failures_are_told_from_transient_ones(
    error_class: type[Exception], kind: BucketFailureKind | None
) -> None:
    assert permanent_failure(error_class("what the service said")) is kind
