"""The log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles): ``/checkpoint``, ``/tile/<L>/<N>[.p/<W>]`` and
``/tile/entries/<N>[.p/<W>]``. Public and read-only, outside ``/api/v1`` (no credentials): tiles hold only
hashes, and what a tile-reading verifier needs is exactly what a witness or auditor may see.

Full tiles never change: ``Cache-Control: public, max-age=31536000, immutable``. Partial tiles and the
checkpoint move with the log: a short ``max-age``. See docs/proofs.md ("Tiles").
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import PathParameter

from api.http.errors import ApiError
from api.http.threads import run_blocking
from api.runtime import Runtime
from proofs.tiles import parse_tile_path

OCTETS = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=5"
"""Partial tiles and the checkpoint: a client polling for a newer tree sees it within seconds."""


class TilesController(Controller):
    path = "/"
    tags = ("tiles",)

    @get(
        "/checkpoint",
        summary="The latest signed checkpoint (C2SP signed note, tlog-tiles)",
        description="With the witnesses' cosignature lines once collected. Public: no credentials.",
        media_type=MediaType.TEXT,
    )
    async def checkpoint(self, runtime: NamedDependency[Runtime]) -> Response[str]:
        record = await run_blocking(runtime.tile_log().checkpoint)
        return Response(record.note, media_type=MediaType.TEXT, headers={"Cache-Control": SHORT})

    @get(
        "/tile/{tile_path:path}",
        summary="A tile of hashes or an entry bundle (C2SP tlog-tiles)",
        description=(
            "`<L>/<N>` or `<L>/<N>.p/<W>`: W hashes (32 bytes each) of tree level 8L starting at hash 256N,"
            " N in 3-digit groups (`x001/x234/067`). `entries/<N>[.p/<W>]`: the entries of leaves 256N..,"
            " each prefixed by its length as a big-endian uint16 (served only where the operator made entries"
            " public). Public: no credentials."
        ),
        media_type=OCTETS,
    )
    async def tile(
        self,
        runtime: NamedDependency[Runtime],
        tile_path: Annotated[str, PathParameter(description="`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`.")],
    ) -> Response[bytes]:
        try:
            parsed = parse_tile_path(tile_path)
        except ValueError as error:
            raise ApiError("NOT_FOUND", str(error)) from None
        data = await run_blocking(runtime.tile_log().tile, parsed)
        cache = IMMUTABLE if parsed.width is None else SHORT
        return Response(data, media_type=OCTETS, headers={"Cache-Control": cache})
