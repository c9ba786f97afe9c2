"""``/api/v1/operations/partners/{partner}/portal-origins``: where a partner embeds the member portal.

The registered origins (``https://benefits.partner.com``: scheme, host and port only) are the pages that
may frame ``/embed/<partner>`` and the portal pages (``Content-Security-Policy: frame-ancestors``), call
what ``widget.js`` calls (CORS) and receive the portal's ``postMessage`` (docs/portal.md). Each change is
the event ``embedding.origins_set``; ``ledger partners portal-origins`` does the same from the command
line. Scope ``operations``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.partners.embedding import MAX_PORTAL_ORIGINS, PortalOrigins

OPS = {"scope": "operations"}
PartnerId = Annotated[str, PathParameter(description="The partner id.", max_length=64)]


class PortalOriginList(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Origins (``https://host[:port]``; ``http`` only on localhost); empty: no other site may embed."""

    origins: Annotated[list[Annotated[str, msgspec.Meta(max_length=255)]], msgspec.Meta(max_length=MAX_PORTAL_ORIGINS)]


class PortalOriginsView(msgspec.Struct, rename="camel"):
    partner_id: str
    origins: list[str]


def _view(found: PortalOrigins) -> PortalOriginsView:
    return PortalOriginsView(partner_id=found.partner_id, origins=list(found.origins))


class OperationsPortalOriginsController(Controller):
    path = "/operations/partners"
    tags = ("operations",)

    @get("/{partner:str}/portal-origins", opt=OPS, summary="A partner's registered portal origins")
    async def portal_origins(self, partner: PartnerId, runtime: NamedDependency[Runtime]) -> PortalOriginsView:
        return _view(await run_blocking(runtime.ledger.embedding.origins, partner))

    @put(
        "/{partner:str}/portal-origins",
        opt=OPS,
        summary="Set (replace) the origins allowed to embed a partner's portal",
        status_code=200,
    )
    async def set_portal_origins(
        self, partner: PartnerId, data: JSONBody[PortalOriginList], runtime: NamedDependency[Runtime]
    ) -> PortalOriginsView:
        return _view(await run_blocking(runtime.ledger.embedding.set_origins, partner, data.origins))
