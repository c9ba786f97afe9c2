"""``/api/v1/operations/partners/{partner}/api-key-policy`` (scope ``operations``): a partner's API key
rotation schedule (seed 000 §6.1), read and set. Setting it records ``partner.api_key_max_age_set``;
what it does to requests is in :mod:`api.http.pipeline.key_age` and docs/authentication.md."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from api.client.schemas import partners as schemas
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.partners.access import ApiKeyStatus, key_schedule
from ledger_core.partners.partner import Partner
from ledger_core.shared.validation import format_timestamp, parse_timestamp

OPS = {"scope": "operations"}
PartnerId = Annotated[str, PathParameter(description="The partner whose API keys these are.")]


def key_policy_view(partner: Partner, runtime: Runtime) -> schemas.KeyPolicyView:
    """The partner's schedule and every key that still works or may (revoked keys left out)."""
    now = runtime.clock()
    keys = []
    for key in sorted(partner.api_keys.values(), key=lambda k: k.issued_at):
        status = key.status(now)
        if status is ApiKeyStatus.REVOKED:
            continue
        schedule = key_schedule(key, partner.key_max_age_days)
        deadlines = [] if schedule is None else [schedule.expires_at]
        if key.expires_at is not None:
            deadlines.append(parse_timestamp(key.expires_at, "expires_at"))
        keys.append(
            schemas.KeyScheduleView(
                key_id=key.key_id,
                status=status.value if not deadlines or now < min(deadlines) else ApiKeyStatus.EXPIRED.value,
                issued_at=key.issued_at,
                expires_at=format_timestamp(min(deadlines)) if deadlines else None,
                warn_from=None if schedule is None else format_timestamp(schedule.warn_from),
                warned=key.key_id in partner.expiry_warned,
            )
        )
    return schemas.KeyPolicyView(partner_id=str(partner.partner_id), max_age_days=partner.key_max_age_days, keys=keys)


class OperationsPartnerKeysController(Controller):
    path = "/operations/partners"
    tags = ("operations",)

    @get("/{partner:str}/api-key-policy", opt=OPS, summary="A partner's API key rotation schedule")
    async def read(self, partner: PartnerId, runtime: NamedDependency[Runtime]) -> schemas.KeyPolicyView:
        loaded = await run_blocking(runtime.ledger.partners.get, partner)
        return key_policy_view(loaded, runtime)

    @put("/{partner:str}/api-key-policy", opt=OPS, summary="Set a partner's maximum API key age", status_code=200)
    async def update(
        self, partner: PartnerId, data: JSONBody[schemas.KeyPolicyUpdate], runtime: NamedDependency[Runtime]
    ) -> schemas.KeyPolicyView:
        """Keys older than ``maxAgeDays`` are refused (401 ``AUTH_KEY_EXPIRED``); null removes the limit."""
        await run_blocking(runtime.ledger.partners.set_key_max_age, partner, data.max_age_days)
        loaded = await run_blocking(runtime.ledger.partners.get, partner)
        return key_policy_view(loaded, runtime)
