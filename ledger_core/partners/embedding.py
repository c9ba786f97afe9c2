"""Where a partner embeds the member portal: its registered portal origins (issue 17 item 2, seed 001 §5).

A partner's benefits site frames the portal (``/embed/<partner>``) or mounts ``widget.js``; the origins
registered here are the only pages allowed to frame it (``Content-Security-Policy: frame-ancestors``),
to call what the widget calls (CORS) and to receive the portal's ``postMessage``. An origin is the
RFC 6454 triple scheme, host and port (section 4), serialized as in section 6.2: ``https://partner.com``
or ``https://benefits.partner.com:8443``; no path, query, fragment or user info. ``https`` only, except on
loopback hosts (a partner's development page on ``http://localhost:8080``).

The id is ``derive_id("embedding", slug)``; each change is one ``embedding.origins_set`` event with the
list before and after, so the log shows who could frame the portal at any time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit
from uuid import UUID

from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import InvalidCommand
from ledger_core.partners.service import PartnerService
from ledger_core.shared.service_support import save
from ledger_core.shared.validation import check_partner_slug, check_text

MAX_PORTAL_ORIGINS = 20
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_DEFAULT_PORTS = {"https": 443, "http": 80}


def check_origin(value: object) -> str:
    """The serialized origin of ``value`` (RFC 6454 §6.2: lower-case scheme and host, default port dropped),
    or :class:`InvalidCommand` naming what is wrong (scheme, path, query, credentials, port)."""
    text = check_text(value, "origin", max_length=255)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidCommand("origin has an invalid port", field="origin", value=text) from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host:
        raise InvalidCommand("origin must be https://host[:port]", field="origin", value=text)
    if parts.username is not None or parts.password is not None:
        raise InvalidCommand("origin must not carry user info", field="origin", value=text)
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise InvalidCommand(
            "origin is scheme, host and port only (no path, query or fragment)", field="origin", value=text
        )
    netloc_host = f"[{host}]" if ":" in host else host
    if scheme == "http" and netloc_host not in LOOPBACK_HOSTS:
        raise InvalidCommand("origin must use https (http only on localhost)", field="origin", value=text)
    suffix = "" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{netloc_host}{suffix}"


def check_origins(values: Sequence[object]) -> list[str]:
    """Each origin checked and normalized, duplicates dropped, sorted; at most :data:`MAX_PORTAL_ORIGINS`."""
    if len(values) > MAX_PORTAL_ORIGINS:
        raise InvalidCommand(f"at most {MAX_PORTAL_ORIGINS} portal origins", field="origins", count=len(values))
    return sorted({check_origin(value) for value in values})


def embedding_id(partner_id: str) -> UUID:
    return derive_id("embedding", partner_id)


class PartnerEmbedding(LedgerAggregate):
    """The origins allowed to embed a partner's portal."""

    AGGREGATE_TYPE: ClassVar[str] = "Embedding"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Opened(Created):
        EVENT_TYPE: ClassVar[str] = "embedding.opened"

    class OriginsSet(Event):
        """The portal origins of the partner (replacing the previous list; empty: no page may embed it)."""

        EVENT_TYPE: ClassVar[str] = "embedding.origins_set"
        origins: list[str]
        previous_origins: list[str]

        def apply(self, aggregate: PartnerEmbedding) -> None:
            aggregate.origins = tuple(self.origins)

    def __init__(self, partner_id: str | None) -> None:
        self.partner_id = partner_id
        self.origins: tuple[str, ...] = ()

    def set_origins(self, origins: Sequence[object]) -> None:
        """Replace the origins (:func:`check_origins`); the same list again records nothing."""
        target = check_origins(origins)
        if tuple(target) != self.origins:
            self.trigger_event(self.OriginsSet, origins=target, previous_origins=list(self.origins))


@dataclass(frozen=True, slots=True)
class PortalOrigins:
    """A partner's registered portal origins and the log positions a change wrote (empty: unchanged)."""

    partner_id: str
    origins: tuple[str, ...]
    positions: tuple[int, ...] = ()


class EmbeddingService:
    """Registering and reading portal origins of registered partners (an unknown partner: not found)."""

    def __init__(self, app: LedgerApplication, partners: PartnerService) -> None:
        self.app = app
        self.partners = partners

    def origins(self, partner_id: str) -> PortalOrigins:
        """The registered origins (none registered: empty, so no other site may embed the portal)."""
        slug = check_partner_slug(partner_id)
        self.partners.get(slug)
        found = self.app.find(PartnerEmbedding, embedding_id(slug))
        return PortalOrigins(slug, () if found is None else found.origins)

    def set_origins(self, partner_id: str, origins: Sequence[object]) -> PortalOrigins:
        """Replace the partner's portal origins (validated, normalized, sorted)."""
        slug = check_partner_slug(partner_id)
        self.partners.get(slug)
        embedding = self.app.find(PartnerEmbedding, embedding_id(slug))
        if embedding is None:
            embedding = PartnerEmbedding._create(PartnerEmbedding.Opened, id=embedding_id(slug), partner_id=slug)
        embedding.set_origins(origins)
        return PortalOrigins(slug, embedding.origins, save(self.app, embedding))
