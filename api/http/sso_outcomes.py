"""Counting sign-in outcomes, whatever the protocol (docs/sso.md "Monitoring and metrics").

Every sign-in attempt, SAML or OIDC, ends in :func:`count_sign_in`: the Prometheus counter
``ledger_sso_logins_total{protocol,outcome,reason}`` (this worker) and the ``sso_login_stats`` row of the
provider (every worker, for ``ledger sso status``). ``reason`` is None for a success, else the
:class:`~ledger_core.accounts.errors.LoginFailure` code; nothing names the person.
"""

from __future__ import annotations

from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.accounts.errors import LoginFailure

_NO_PROVIDER = frozenset({LoginFailure.PROVIDER_UNKNOWN.value, LoginFailure.PROVIDER_KIND_MISMATCH.value})


async def count_sign_in(runtime: Runtime, partner_id: str, provider_id: str, protocol: str, reason: str | None) -> None:
    """Record one sign-in outcome. A URL naming no configured provider only counts in the metric (the path
    is the caller's choice: no table row for it)."""
    outcome = "success" if reason is None else "failure"
    runtime.metrics.sso_logins.labels(protocol, outcome, reason or "ok").inc()
    if reason not in _NO_PROVIDER:
        await run_blocking(runtime.sign_in().oidc.record, partner_id, provider_id, protocol, reason)
