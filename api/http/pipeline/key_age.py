"""The API key rotation schedule at admission: the ``X-API-Key-Expires`` header, and the warning recorded once.

A key has a deadline when its partner has a maximum key age (``partner.api_key_max_age_set``: the key's
``issued_at`` plus that age) or when it was rotated out (the end of its overlap); the earlier one is sent
as ``X-API-Key-Expires`` (RFC 3339) on every response to a request signed with it. From the start of the
warning window (14 days before the maximum age, or a quarter of the age when shorter) the first such
request records ``partner.api_key_expiring`` once per key, which the webhook projector delivers to the
partner as ``audit.alert`` (``data.alert`` ``api_key_expiring``). Past the maximum age the authenticator
refuses the key (401 ``AUTH_KEY_EXPIRED``). See docs/authentication.md, "Key rotation schedule".
"""

from __future__ import annotations

from datetime import datetime

from ledger_core.partners.access import key_schedule
from ledger_core.partners.partner import Partner
from ledger_core.partners.service import PartnerService
from ledger_core.shared.validation import format_timestamp, parse_timestamp

KEY_EXPIRES_HEADER = "X-API-Key-Expires"


def key_expiry_headers(partners: PartnerService, partner: Partner | None, key_id: str, now: datetime) -> dict[str, str]:
    """``X-API-Key-Expires`` for a key with a deadline (else nothing); records the warning when it is due.

    Blocking: the warning is a log write (once per key; later calls find it recorded and write nothing).
    """
    key = None if partner is None else partner.api_keys.get(key_id)
    if partner is None or key is None or partner.partner_id is None:
        return {}
    schedule = key_schedule(key, partner.key_max_age_days)
    deadlines = [] if schedule is None else [schedule.expires_at]
    if key.expires_at is not None:
        deadlines.append(parse_timestamp(key.expires_at, "expires_at"))
    if not deadlines:
        return {}
    if schedule is not None and schedule.warn_from <= now and key_id not in partner.expiry_warned:
        partners.warn_key_expiring(partner.partner_id, key_id)
    return {KEY_EXPIRES_HEADER: format_timestamp(min(deadlines))}
