"""Certificate expiry watch for single sign-on (seed 001 section 1.4: "alert 30 days before").

Every identity provider certificate in the partners' SAML configuration and our own SP certificate are
checked against the clock: ``ok``, ``expiring`` (``notAfter`` within ``warn_days``) or ``expired``. Each
certificate entering ``expiring`` or ``expired`` raises one ``audit.alert`` webhook to its partner (the
message id is derived from the certificate and stage, and the outbox inserts it only if it is new, in
one statement, so an hourly watch in every worker alerts once). The SP certificate concerns every partner
with a SAML provider, so each of them is alerted. The caller turns the returned :class:`CertificateStatus` list into the
``ledger_sso_certificate_*`` gauges and the ``ledger sso status`` column.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from adapters.outbox import OutboxStore
from ledger_core.webhooks.events import certificate_expiry_alert

WARN_DAYS = 30


class CertificateRole(enum.StrEnum):
    IDP = "idp"
    SP = "sp"


class CertificateStage(enum.StrEnum):
    OK = "ok"
    EXPIRING = "expiring"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class WatchedCertificate:
    """One certificate to watch: whose (partner, provider), which side, and the PEM text."""

    partner_id: str
    provider_id: str
    role: CertificateRole
    pem: str


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    """Where a watched certificate stands at ``checked_at``; ``alerted`` if this check raised its alert."""

    partner_id: str
    provider_id: str
    role: CertificateRole
    fingerprint: str
    not_after: datetime
    stage: CertificateStage
    seconds_left: float
    alerted: bool


def stage_of(not_after: datetime, now: datetime, warn_days: int = WARN_DAYS) -> CertificateStage:
    """``expired`` from ``notAfter`` on (RFC 5280 section 4.1.2.5: valid through notAfter), ``expiring`` within
    ``warn_days`` of it, else ``ok``."""
    if now > not_after:
        return CertificateStage.EXPIRED
    if now >= not_after - timedelta(days=warn_days):
        return CertificateStage.EXPIRING
    return CertificateStage.OK


def fingerprint_of(certificate: x509.Certificate) -> str:
    """The SHA-256 fingerprint (lower-case hex) partners' IT teams compare in their IdP consoles."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def check_certificates(
    store: OutboxStore, watched: Sequence[WatchedCertificate], now: datetime, warn_days: int = WARN_DAYS
) -> list[CertificateStatus]:
    """Classify every certificate and raise the alerts not raised before, in one outbox transaction."""
    statuses: list[CertificateStatus] = []
    at = now.astimezone(UTC).isoformat().replace("+00:00", "Z")
    with store.transaction() as tx:
        for item in watched:
            certificate = x509.load_pem_x509_certificate(item.pem.encode("ascii"))
            not_after = certificate.not_valid_after_utc
            stage = stage_of(not_after, now, warn_days)
            fingerprint = fingerprint_of(certificate)
            alerted = False
            if stage is not CertificateStage.OK:
                event = certificate_expiry_alert(
                    partner_id=item.partner_id,
                    provider_id=item.provider_id,
                    role=item.role.value,
                    fingerprint=fingerprint,
                    not_after=not_after.isoformat().replace("+00:00", "Z"),
                    stage=stage.value,
                    days_left=max(0, (not_after - now).days),
                    at=at,
                )
                alerted = tx.enqueue_once(event, now.timestamp())
            statuses.append(
                CertificateStatus(
                    item.partner_id,
                    item.provider_id,
                    item.role,
                    fingerprint,
                    not_after,
                    stage,
                    (not_after - now).total_seconds(),
                    alerted,
                )
            )
    return statuses
