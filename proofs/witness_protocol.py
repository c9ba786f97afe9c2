"""C2SP tlog-witness ``add-checkpoint``: the request body and the witness's decision, pure.

The request body (c2sp.org/tlog-witness, "add-checkpoint") is an ``old <size>`` line, zero to 63 base64
consistency proof lines, an empty line, then the signed checkpoint. :func:`decide` applies the checks
in the spec's order against the witness's last cosigned checkpoint of that origin and either returns
the checkpoint to cosign or raises a :class:`WitnessRefusal` carrying the HTTP status the spec names:

* 400 malformed request, or old size above the checkpoint size;
* 404 unknown origin; 403 no signature from a trusted log key;
* 409 old size is not the size the witness last cosigned (the body names that size), or the same size
  with another root hash (a split view);
* 422 the consistency proof does not verify (a rollback, or a fork).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from proofs.checkpoint import Checkpoint, parse_body
from proofs.errors import ProofError
from proofs.note import NoteVerifier, b64decode_strict, open_note
from proofs.verify import verify_consistency

__all__ = [
    "MAX_PROOF_LINES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "Refusal",
    "WitnessRefusal",
    "WitnessedHead",
    "decide",
    "format_add_checkpoint",
    "parse_add_checkpoint",
]

MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"


class Refusal(IntEnum):
    """Why a witness refuses, as the HTTP status the spec gives it."""

    BAD_REQUEST = 400
    FORBIDDEN = 403
    UNKNOWN_LOG = 404
    CONFLICT = 409
    INCONSISTENT = 422


class WitnessRefusal(ProofError):
    """The witness will not cosign: ``status`` (:class:`Refusal`), a reason, and for 409 its own size."""

    def __init__(self, status: Refusal, reason: str, size: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.size = size


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed ``add-checkpoint`` request."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str


@dataclass(frozen=True)
class WitnessedHead:
    """The latest checkpoint a witness cosigned for one origin."""

    origin: str
    size: int
    root_hash: bytes


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], checkpoint: str) -> bytes:
    """The request body for ``old_size``, its consistency ``proof`` and the signed ``checkpoint`` note."""
    lines = [f"old {old_size}\n", *(base64.b64encode(node).decode() + "\n" for node in proof), "\n"]
    return ("".join(lines) + checkpoint).encode()


def _size(text: str) -> int:
    if not text.isascii() or not text.isdigit() or (text != "0" and text.startswith("0")):
        raise WitnessRefusal(Refusal.BAD_REQUEST, f"old size {text[:30]!r} is not a decimal without leading zeros")
    return int(text)


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse a request body; malformed input raises :class:`WitnessRefusal` 400."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessRefusal(Refusal.BAD_REQUEST, "the request body is not UTF-8") from None
    head, blank, checkpoint = text.partition("\n\n")
    if not blank:
        raise WitnessRefusal(Refusal.BAD_REQUEST, "no empty line before the checkpoint")
    first, *proof_lines = head.split("\n")
    if not first.startswith("old "):
        raise WitnessRefusal(Refusal.BAD_REQUEST, "the first line must be `old <size>`")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise WitnessRefusal(Refusal.BAD_REQUEST, f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in proof_lines:
        node = b64decode_strict(line)
        if node is None or len(node) != 32:
            raise WitnessRefusal(Refusal.BAD_REQUEST, f"proof line {line[:60]!r} is not a base64 SHA-256 hash")
        proof.append(node)
    return AddCheckpoint(_size(first[4:]), tuple(proof), checkpoint)


def _open(request: AddCheckpoint, logs: Mapping[str, Sequence[NoteVerifier]]) -> Checkpoint:
    origin = request.checkpoint.split("\n", 1)[0]
    trusted = logs.get(origin)
    if trusted is None:
        raise WitnessRefusal(Refusal.UNKNOWN_LOG, f"unknown log origin {origin[:80]!r}")
    try:
        text, _ = open_note(request.checkpoint, trusted)
    except ProofError as error:
        raise WitnessRefusal(Refusal.FORBIDDEN, f"the checkpoint is not signed by the log's key: {error}") from None
    try:
        return parse_body(text)
    except ProofError as error:
        raise WitnessRefusal(Refusal.BAD_REQUEST, f"malformed checkpoint: {error}") from None


def decide(
    request: AddCheckpoint, logs: Mapping[str, Sequence[NoteVerifier]], last: WitnessedHead | None
) -> Checkpoint:
    """The checkpoint to cosign (the caller persists it as the new last head, atomically with the check).

    ``logs`` maps each known origin to its trusted verifier keys; ``last`` is the latest head the
    witness cosigned for the checkpoint's origin (None: never).
    """
    checkpoint = _open(request, logs)
    if request.old_size > checkpoint.size:
        raise WitnessRefusal(
            Refusal.BAD_REQUEST, f"old size {request.old_size} exceeds checkpoint size {checkpoint.size}"
        )
    known = 0 if last is None else last.size
    if request.old_size != known:
        raise WitnessRefusal(Refusal.CONFLICT, f"the witness last cosigned size {known}, not {request.old_size}", known)
    if last is not None and checkpoint.size == last.size:
        if checkpoint.root_hash != last.root_hash:
            raise WitnessRefusal(
                Refusal.CONFLICT,
                f"split view: size {last.size} was cosigned with root {last.root_hash.hex()},"
                f" this checkpoint says {checkpoint.root_hash.hex()}",
                known,
            )
        return checkpoint
    if last is None:  # first checkpoint of this log: old size 0, nothing to be consistent with
        if request.proof:
            raise WitnessRefusal(Refusal.INCONSISTENT, "the consistency proof from size 0 must be empty")
        return checkpoint
    try:
        verify_consistency(last.size, checkpoint.size, last.root_hash, checkpoint.root_hash, request.proof)
    except ProofError as error:
        raise WitnessRefusal(
            Refusal.INCONSISTENT, f"not consistent with the cosigned size {last.size}: {error}"
        ) from None
    return checkpoint
