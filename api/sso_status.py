"""Single sign-on health per configured provider (``ledger sso status``) and the certificates to watch.

Shared by the CLI and the server's certificate watch: the providers come from the accounts context
(:class:`~ledger_core.accounts.directory.SsoPartners` finds the partners), the outcome counts from
``sso_login_stats`` (:class:`~adapters.ports.SsoHealthStore`), certificate stages from
:mod:`adapters.workers.certificate_watch`. Nothing here names a person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from adapters.ports import SsoHealthRow
from adapters.workers.certificate_watch import CertificateRole, CertificateStage, WatchedCertificate, stage_of
from ledger_core.accounts.identity import IdentityProviderKind
from ledger_core.accounts.providers import IdentityProvider
from ledger_core.accounts.use_cases import Accounts

SP_PROVIDER_ID = "ledger-sp"
"""The provider id our own SP certificate is reported under (it serves every SAML provider)."""


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """One provider's configuration health (seed 001 section 7.3: success rate target above 99%)."""

    partner_id: str
    provider_id: str
    protocol: str
    user_kind: str
    certificate_not_after: datetime | None
    certificate_stage: CertificateStage | None
    successes: int
    failures: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_failure_reason: str | None

    @property
    def success_rate(self) -> float | None:
        total = self.successes + self.failures
        return None if total == 0 else self.successes / total

    def to_json(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat().replace("+00:00", "Z")

        rate = self.success_rate
        return {
            "partnerId": self.partner_id,
            "providerId": self.provider_id,
            "protocol": self.protocol,
            "userKind": self.user_kind,
            "certificateNotAfter": when(self.certificate_not_after),
            "certificateState": None if self.certificate_stage is None else self.certificate_stage.value,
            "successes": self.successes,
            "failures": self.failures,
            "successRate": None if rate is None else round(rate, 4),
            "lastSuccessAt": when(self.last_success_at),
            "lastFailureAt": when(self.last_failure_at),
            "lastFailureReason": self.last_failure_reason,
        }


def configured_providers(accounts: Accounts, partners: Iterable[str]) -> list[IdentityProvider]:
    """Every provider of ``partners``, by partner then provider id."""
    return [provider for partner in partners for provider in accounts.providers(partner)]


def watched_certificates(providers: Sequence[IdentityProvider], sp_certificate: str | None) -> list[WatchedCertificate]:
    """The IdP certificates of every SAML provider, and our SP certificate once per partner using SAML."""
    watched: list[WatchedCertificate] = []
    saml_partners: dict[str, None] = {}
    for provider in providers:
        if provider.kind is IdentityProviderKind.SAML:
            saml_partners.setdefault(provider.partner_id, None)
            watched.extend(
                WatchedCertificate(provider.partner_id, provider.provider_id, CertificateRole.IDP, pem)
                for pem in provider.saml.certificates
            )
    if sp_certificate is not None:
        watched.extend(
            WatchedCertificate(partner, SP_PROVIDER_ID, CertificateRole.SP, sp_certificate) for partner in saml_partners
        )
    return watched


def provider_health(
    providers: Sequence[IdentityProvider], rows: Sequence[SsoHealthRow], now: datetime
) -> list[ProviderHealth]:
    """One :class:`ProviderHealth` per provider: its earliest certificate (SAML) and its sign-in outcomes."""
    outcomes = {(row.partner_id, row.provider_id): row for row in rows}
    report: list[ProviderHealth] = []
    for provider in providers:
        not_after = None
        if provider.kind is IdentityProviderKind.SAML:
            not_after = min(
                x509.load_pem_x509_certificate(pem.encode("ascii")).not_valid_after_utc
                for pem in provider.saml.certificates
            )
        row = outcomes.get((provider.partner_id, provider.provider_id))
        report.append(
            ProviderHealth(
                partner_id=provider.partner_id,
                provider_id=provider.provider_id,
                protocol=provider.kind.value,
                user_kind=provider.user_kind.value,
                certificate_not_after=not_after,
                certificate_stage=None if not_after is None else stage_of(not_after, now),
                successes=0 if row is None else row.successes,
                failures=0 if row is None else row.failures,
                last_success_at=_moment(None if row is None else row.last_success_at),
                last_failure_at=_moment(None if row is None else row.last_failure_at),
                last_failure_reason=None if row is None else row.last_failure_reason,
            )
        )
    return report


def _moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
