"""The server's single sign-on jobs: the certificate watch and the roster inbox (docs/sso.md "Monitoring").

Started in the app's lifespan beside the sign-in services and stopped with the runtime:

* every ``settings.sso.certificate_check_seconds`` (an hour), every IdP certificate of the partners' SAML
  providers and our SP certificate are checked (:func:`adapters.workers.certificate_watch.check_certificates`):
  ``audit.alert`` once per certificate 30 days before and at expiry, and the ``ledger_sso_certificate_*``
  gauges set;
* every ``settings.sso.roster_interval_seconds``, roster files in ``settings.sso.roster_inbox`` (default
  ``<data dir>/inbound/sso``, where the feeds' SFTP inbound delivers) are applied
  (:func:`api.sso_roster.apply_roster`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.files.saml_sp_key import sp_key_pair
from adapters.outbox import OutboxStore
from adapters.roster import Roster
from adapters.workers.certificate_watch import CertificateStage, CertificateStatus, check_certificates
from adapters.workers.periodic import start_periodic
from adapters.workers.roster_inbox import RosterInbox
from api.http.observability import Metrics
from api.oidc_runtime import OidcRuntime
from api.settings import Settings
from api.sso_roster import apply_roster
from api.sso_status import configured_providers, watched_certificates
from ledger_core.accounts.directory import SsoPartners
from ledger_core.accounts.ports import SessionStore
from ledger_core.ledger import Ledger

logger = logging.getLogger("api.sso")
_STATE = {CertificateStage.OK: 0, CertificateStage.EXPIRING: 1, CertificateStage.EXPIRED: 2}


def sp_certificate_pem(settings: Settings) -> str | None:
    """Our SAML SP certificate (``settings.sso.sp_certificate``, else the data directory's pair)."""
    _, cert_file = sp_key_pair(settings.storage.data_dir, settings.sso.sp_key, settings.sso.sp_certificate)
    return cert_file.read_text() if cert_file.is_file() else None


def roster_inbox_path(settings: Settings) -> Path:
    return settings.sso.roster_inbox or settings.storage.data_dir / "inbound" / "sso"


def publish(metrics: Metrics, statuses: list[CertificateStatus]) -> None:
    """Set the certificate gauges (the earliest certificate per partner, provider and side wins)."""
    earliest: dict[tuple[str, str, str], CertificateStatus] = {}
    for status in statuses:
        key = (status.partner_id, status.provider_id, status.role.value)
        if key not in earliest or status.seconds_left < earliest[key].seconds_left:
            earliest[key] = status
    for key, status in earliest.items():
        metrics.sso_certificate_expiry.labels(*key).set(status.seconds_left)
        metrics.sso_certificate_state.labels(*key).set(_STATE[status.stage])


def start_sso_jobs(
    settings: Settings,
    ledger: Ledger,
    sessions: SessionStore,
    oidc: OidcRuntime,
    outbox: OutboxStore,
    metrics: Metrics,
    sp_certificate: str | None,
    closers: list[Callable[[], Any]],
) -> None:
    """Start both jobs; their stop functions go to ``closers``."""
    partners = SsoPartners(ledger.app.log_reader)

    def watch() -> None:
        providers = configured_providers(ledger.accounts, partners.partners())
        statuses = check_certificates(outbox, watched_certificates(providers, sp_certificate), datetime.now(UTC))
        publish(metrics, statuses)
        for status in statuses:
            if status.alerted:
                logger.warning(
                    "sso certificate %s",
                    status.stage.value,
                    extra={"partner": status.partner_id, "provider": status.provider_id, "certificate": status.role},
                )

    def apply(roster: Roster, name: str) -> dict[str, Any]:
        return apply_roster(ledger, sessions, oidc.token_store, roster, source=name, actor="roster-inbox")

    inbox_path = roster_inbox_path(settings)
    inbox_path.mkdir(parents=True, exist_ok=True)
    inbox = RosterInbox(inbox_path, apply)
    closers.append(start_periodic("sso-certificate-watch", settings.sso.certificate_check_seconds, watch, logger))
    closers.append(start_periodic("sso-roster-inbox", settings.sso.roster_interval_seconds, inbox.run_once, logger))
