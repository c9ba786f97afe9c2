"""API version lifecycle headers: RFC 9745 ``Deprecation``, RFC 8594 ``Sunset``, 410 for retired versions.

A version is named by the first path segment after ``/api/`` (``/api/v1/claims`` is ``v1``). Its
:class:`~api.settings.VersionPolicy` (settings ``http.versions``) decides:

* deprecated (``deprecated_at`` set): every response carries ``Deprecation: @<unix seconds>`` and
  ``Link: <migration>; rel="deprecation"`` (RFC 9745), plus ``Sunset: <HTTP-date>`` (RFC 8594) and
  ``Link: <migration>; rel="sunset"`` when a sunset date is set;
* retired: every call is answered ``410 Gone`` with code ``API_VERSION_RETIRED``, ``details.migration``
  and a ``Link: <migration>; rel="successor-version"`` header, before authentication (nothing to protect).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC
from email.utils import format_datetime
from typing import Any

from api.settings import VersionPolicy

_VERSIONED = re.compile(r"^/api/(v[0-9]+)(?:/|$)")


def version_of(path: str) -> str | None:
    """``v1`` for ``/api/v1/...``; None for unversioned paths (``/health``, ``/oauth/token``)."""
    match = _VERSIONED.match(path)
    return match.group(1) if match else None


def policy_for(path: str, versions: Mapping[str, VersionPolicy]) -> VersionPolicy | None:
    version = version_of(path)
    return None if version is None else versions.get(version)


def lifecycle_headers(policy: VersionPolicy) -> list[tuple[str, str]]:
    """Deprecation/Sunset/Link headers of a deprecated version (empty when it is current)."""
    headers: list[tuple[str, str]] = []
    if policy.deprecated_at is not None:
        headers.append(("Deprecation", f"@{int(policy.deprecated_at.timestamp())}"))
        if policy.migration:
            headers.append(("Link", f'<{policy.migration}>; rel="deprecation"'))
    if policy.sunset_at is not None:
        headers.append(("Sunset", format_datetime(policy.sunset_at.astimezone(UTC), usegmt=True)))
        if policy.migration:
            headers.append(("Link", f'<{policy.migration}>; rel="sunset"'))
    return headers


def retired_details(version: str, policy: VersionPolicy) -> dict[str, Any]:
    return {"version": version, "migration": policy.migration}


def successor_link(policy: VersionPolicy) -> list[tuple[str, str]]:
    return [("Link", f'<{policy.migration}>; rel="successor-version"')] if policy.migration else []
