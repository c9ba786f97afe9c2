"""The witness's HTTP service: ``POST /add-checkpoint`` (c2sp.org/tlog-witness), a small Litestar app.

The request body is read raw (it is the protocol's text format, not JSON), parsed and decided by
:mod:`proofs.witness_protocol`; the check and the recording of the new head are one atomic step of
:class:`adapters.files.witness_state.WitnessState`. Answers: 200 with one cosignature line
(``text/plain``), or the spec's refusal status with a one-line reason; a 409 carries the witness's size
as ``text/x.tlog.size``. ``GET /vkey`` returns the witness's verifier key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from litestar import Litestar, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from adapters.files.witness_state import WitnessState
from proofs.cosignature import Cosigner, note_body
from proofs.note import NoteVerifier
from proofs.witness_protocol import SIZE_CONTENT_TYPE, Refusal, WitnessRefusal, decide, parse_add_checkpoint

TEXT = "text/plain; charset=utf-8"
MAX_REQUEST_BYTES = 64 * 1024
"""A checkpoint with a few signatures and 63 proof lines is a few KiB; anything larger is refused (413)."""

log = logging.getLogger("ledger.witness")


@dataclass(frozen=True)
class WitnessConfig:
    """What a witness is: its key, the logs it knows (origin -> trusted keys), its state, its clock."""

    cosigner: Cosigner
    logs: Mapping[str, Sequence[NoteVerifier]]
    state: WitnessState
    clock: Callable[[], float] = field(default=time.time)


def _refused(refusal: WitnessRefusal) -> Response[str]:
    if refusal.status is Refusal.CONFLICT and refusal.size is not None:
        log.warning("witness refused (409): %s", refusal.reason)
        return Response(f"{refusal.size}\n", status_code=409, media_type=SIZE_CONTENT_TYPE)
    log.warning("witness refused (%d): %s", refusal.status, refusal.reason)
    return Response(refusal.reason + "\n", status_code=int(refusal.status), media_type=TEXT)


@post("/add-checkpoint", status_code=200, media_type=TEXT, summary="Cosign a checkpoint (C2SP tlog-witness)")
async def add_checkpoint(request: Request[None, None, State], witness: NamedDependency[WitnessConfig]) -> Response[str]:
    body = await request.body()
    if len(body) > MAX_REQUEST_BYTES:
        return Response("request too large\n", status_code=413, media_type=TEXT)
    try:
        parsed = parse_add_checkpoint(body)
        origin = parsed.checkpoint.split("\n", 1)[0]
        checkpoint = await sync_to_thread(
            witness.state.advance, origin, lambda last: decide(parsed, witness.logs, last)
        )  # the per-log file lock may wait for a concurrent request: never on the event loop
    except WitnessRefusal as refusal:
        return _refused(refusal)
    line = witness.cosigner.cosign(note_body(parsed.checkpoint), int(witness.clock()))
    log.info("cosigned %s at size %d", checkpoint.origin, checkpoint.size)
    return Response(line, media_type=TEXT)


@get("/vkey", media_type=TEXT, summary="The witness's verifier key (cosignature/v1)")
async def vkey(witness: NamedDependency[WitnessConfig]) -> str:
    return witness.cosigner.verifier().vkey + "\n"


def create_witness_app(config: WitnessConfig) -> Litestar:
    """The witness app over ``config`` (nothing is opened here: the state directory exists already)."""
    return Litestar(
        route_handlers=[add_checkpoint, vkey],
        dependencies={"witness": Provide(lambda: config, sync_to_thread=False)},
        openapi_config=None,
    )
