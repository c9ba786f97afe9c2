"""``/api/v1/operations/partners/{partner}/ip-allowlist``: a partner's IP allowlist (scope ``operations``).

Seed 000 section 6.1 asks for IP allowlisting at onboarding. The list lives on the Partner aggregate
(event ``partner.ip_allowlist_set``), so every change is in the log; ``ledger partners allow-ips`` /
``clear-ips`` do the same from the command line. A request of the partner from an address outside a
non-empty list is refused with 403 ``IP_NOT_ALLOWED`` as soon as its token names the partner
(:mod:`api.http.pipeline.authentication`), using the client address of the trusted-proxy rule
(:mod:`api.http.proxies`). Servers notice a change within a second (the partner directory's cache).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.partners.access import MAX_ALLOWLIST

OPS = {"scope": "operations"}
PartnerId = Annotated[str, PathParameter(description="The partner id.", max_length=64)]


class IpAllowlist(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """CIDRs (``203.0.113.0/24``, ``2001:db8::/48``; a bare address is one host); empty: any address."""

    cidrs: Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=MAX_ALLOWLIST)]


class IpAllowlistView(msgspec.Struct, rename="camel"):
    partner_id: str
    cidrs: list[str]


class OperationsPartnersController(Controller):
    path = "/operations/partners"
    tags = ("operations",)

    @get("/{partner:str}/ip-allowlist", opt=OPS, summary="A partner's IP allowlist")
    async def allowlist(self, partner: PartnerId, runtime: NamedDependency[Runtime]) -> IpAllowlistView:
        record = await run_blocking(runtime.ledger.partners.get, partner)
        return IpAllowlistView(partner_id=partner, cidrs=list(record.ip_allowlist))

    @put(
        "/{partner:str}/ip-allowlist",
        opt=OPS,
        summary="Set (replace) a partner's IP allowlist; an empty list clears it",
        status_code=200,
    )
    async def set_allowlist(
        self, partner: PartnerId, data: JSONBody[IpAllowlist], runtime: NamedDependency[Runtime]
    ) -> IpAllowlistView:
        def change() -> list[str]:
            runtime.ledger.partners.set_ip_allowlist(partner, data.cidrs)
            return list(runtime.ledger.partners.get(partner).ip_allowlist)

        return IpAllowlistView(partner_id=partner, cidrs=await run_blocking(change))
