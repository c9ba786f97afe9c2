"""Applying a partner's roster (deprovisioning sync, docs/sso.md): the one function the operations API, the
``ledger sso sync`` command and the server's roster inbox share.

The accounts context deactivates every active account the roster does not list
(:class:`~ledger_core.accounts.deprovisioning.Deprovisioning`); then each deactivated account's sessions
are revoked everywhere (``sso_sessions``) and its provider refresh tokens deleted (``sso_oidc_tokens``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.ports import OidcTokenStore
from adapters.roster import Roster
from ledger_core.accounts.deprovisioning import Deprovisioning
from ledger_core.accounts.ports import SessionStore
from ledger_core.ledger import Ledger


def apply_roster(
    ledger: Ledger,
    sessions: SessionStore,
    tokens: OidcTokenStore,
    roster: Roster,
    *,
    source: str,
    actor: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Run the sync for ``roster`` (named ``source`` in the events' reason); the JSON report."""
    at = now or datetime.now(UTC)
    result = Deprovisioning(ledger.accounts).sync(
        roster.partner_id,
        roster.user_kind,
        roster.active_ids,
        reason=f"not in the partner's roster {source}",
        actor=actor,
    )
    revoked = 0
    for account in result.deactivated:
        revoked += sessions.revoke_account(account, at)
        tokens.forget(account)
    return {**result.to_json(), "sessions_revoked": revoked}
