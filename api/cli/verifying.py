"""``ledger proof verify`` and ``ledger audit verify``: any proof document, verified offline;
``ledger proof verify-promise``: a signed promise of inclusion (proofs/promise.py) and the proof that keeps it.

Both read only the files given (``--data-dir`` and ``--database-url`` are accepted like everywhere but
never opened) and accept every document the ledger produces, whoever produced it (docs/proofs.md, "The
proof document format"): one verifier, :func:`proofs.documents.verify_document`. ``audit verify``
also checks what a ledger envelope says in bundles (position, partner, an aggregate's version chain).

``--state FILE`` keeps the last checkpoint verified (:mod:`proofs.client_state`): a later checkpoint of
the same log must be consistent with it (a consistency proof document moves it forward), the same size
must have the same root; a contradiction fails verification (exit 1) naming the two checkpoints.

Exit codes (api/cli/errors.py): 0 valid, 1 does not verify (JSON ``{"valid": false, "error"}`` on
stdout as well), 2 unreadable or malformed input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.storage import DEFAULT_DATA_DIR
from api.cli.errors import CliFailure, ExitCode
from api.cli.options import DatabaseUrl, DataDir
from ledger_core.engine.auditing import check_bundle_envelopes, verify_history
from proofs.bundle import HISTORY_FORMAT, Bundle, ConsistencyProof, InclusionProof, MalformedProofJson
from proofs.client_state import CheckpointState
from proofs.cosignature import CosignerVerifier, parse_cosigner_vkey, verify_cosignatures
from proofs.documents import DocumentReport, read_document, verify_document
from proofs.errors import ProofError
from proofs.note import NoteVerifier, parse_vkey
from proofs.promise import InclusionPromise, MalformedPromise, check_kept, verify_promise

UNPINNED = (
    "the bundle's own vkey proves only that the bundle is self-consistent; it proves nothing about the"
    " ledger unless it equals a key you obtained out of band (pass it with --vkey)"
)
Vkeys = Annotated[
    list[str] | None, typer.Option("--vkey", help="Trusted verifier key (string or file), pinned out of band.")
]
State = Annotated[
    Path | None,
    typer.Option(
        "--state",
        envvar="LEDGER_CHECKPOINT_STATE",
        help="File remembering the last verified checkpoint; later ones must be consistent with it.",
    ),
]


Witnesses = Annotated[
    list[str] | None,
    typer.Option(
        "--witness", help="A witness verifier key (string or file) whose cosignature is required; repeatable."
    ),
]


def witness_verifiers(values: list[str] | None) -> list[CosignerVerifier]:
    """Parse ``--witness`` values (cosignature/v1 vkeys or files holding one)."""
    parsed = []
    for value in values or []:
        try:
            parsed.append(parse_cosigner_vkey(vkey_text(value)))
        except ProofError as error:
            raise CliFailure("USAGE_ERROR", f"--witness {value!r} is not a witness verifier key: {error}") from None
    return parsed


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


def vkey_text(value: str) -> str:
    """A verifier key given on the command line: the key itself, or a file holding it."""
    if "+" in value and not Path(value).is_file():
        return value
    try:
        return Path(value).read_text(encoding="utf-8").strip()
    except OSError as error:
        reason = error.strerror or str(error)
        message = f"--vkey {value!r} is neither a verifier key nor a readable file ({reason})"
        raise CliFailure("USAGE_ERROR", message) from None


def verifiers(values: list[str] | None) -> list[NoteVerifier]:
    """Parse ``--vkey`` values (keys or files); a malformed one is a usage error naming it."""
    parsed = []
    for value in values or []:
        try:
            parsed.append(parse_vkey(vkey_text(value)))
        except ProofError as error:
            raise CliFailure("USAGE_ERROR", f"--vkey {value!r} is not a verifier key: {error}") from None
    return parsed


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CliFailure("FILE_ERROR", f"cannot read {what} {str(path)!r}: {error.strerror or error}") from None


def _invalid(error: ProofError, **details: Any) -> CliFailure:
    """A document that does not verify: JSON on stdout, the one line on stderr, exit 1."""
    _echo_json({"valid": False, "error": str(error), **details})
    return CliFailure("PROOF_INVALID", str(error), ExitCode.VERIFICATION_FAILED)


def _remember(state_file: Path | None, report: DocumentReport) -> dict[str, Any]:
    """Compare the verified checkpoints with the state file (if any); their comparisons by size."""
    if state_file is None:
        return {}
    state = CheckpointState(state_file)
    document = report.document
    path = None
    if isinstance(document, ConsistencyProof):
        sizes, steps = (document.from_size, document.to_size), document.path
        path = lambda old, new: steps if (old, new) == sizes else None  # noqa: E731 - one proof at hand
    compared = {}
    for size in sorted(report.checkpoints):
        head = report.checkpoints[size]
        compared[str(size)] = state.observe(head, report.notes[size], path).value
    return {"state": {"file": str(state_file), "checkpoints": compared}}


def proof_verify(
    proof_file: Annotated[Path, typer.Argument(metavar="PROOF.json")],
    vkey: Annotated[str, typer.Option("--vkey", help="Verifier key (string or file), obtained out of band.")],
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option("--checkpoint", help="Signed checkpoint note(s) beside the proof (it may carry its own)."),
    ] = None,
    entry: Annotated[Path | None, typer.Option(help="The entry's bytes: check they hash to leafHash.")] = None,
    state: State = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Verify a proof document offline (inclusion, consistency, or a bundle) against signed checkpoints.

    Reads only the files given: --data-dir and --database-url are accepted like everywhere but never opened.
    """
    trusted = verifiers([vkey])
    raw = _read(proof_file, "PROOF.json")
    notes = [_read(path, "checkpoint") for path in checkpoint or []]
    leaf = None if entry is None else _read(entry, "entry")
    try:
        document = read_document(raw)
        report = verify_document(document, trusted, checkpoints=notes, entry=leaf)
        remembered = _remember(state, report)
    except MalformedProofJson as error:
        raise CliFailure("MALFORMED_PROOF", f"{proof_file}: {error}") from None
    except ProofError as error:
        raise _invalid(error) from None
    shown = document.to_json() if not isinstance(document, Bundle) else {"entries": report.entries}
    _echo_json({"valid": True, "origin": trusted[0].name, **shown, **remembered})


def audit_verify(
    bundle_file: Annotated[Path, typer.Argument(metavar="FILE")],
    vkey: Vkeys = None,
    witness: Witnesses = None,
    state: State = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Verify an audit bundle, history proof or any proof document offline: leaf hashes, inclusion proofs,
    checkpoint signatures, and what ledger envelopes say.

    Reads only FILE: --data-dir and --database-url are accepted like everywhere but never opened.
    """
    trusted = verifiers(vkey)
    witnesses = witness_verifiers(witness)
    raw = _read(bundle_file, "FILE")
    try:
        document = read_document(raw)
        extra: dict[str, Any] = {}
        if isinstance(document, Bundle) and document.format == HISTORY_FORMAT:
            history = verify_history(document, trusted)
            report = verify_document(document, trusted)
            extra = {"aggregateId": history.aggregate_id, "versions": history.versions}
        else:
            report = verify_document(document, trusted)
            if isinstance(document, Bundle):
                extra = {"partnerId": document.subject.get("partnerId"), "envelopes": check_bundle_envelopes(document)}
        cosigned = verify_cosignatures(report.notes[report.tree_size], witnesses)
        if cosigned:
            extra["witnesses"] = [{"name": c.witness, "timestamp": c.timestamp} for c in cosigned]
        remembered = _remember(state, report)
    except MalformedProofJson as error:
        raise CliFailure("MALFORMED_PROOF", f"{bundle_file}: {error}") from None
    except ProofError as error:
        raise _invalid(error, file=str(bundle_file)) from None
    head = report.checkpoints[report.tree_size]
    summary = {
        "valid": True,
        "format": report.format,
        "origin": head.origin,
        "treeSize": report.tree_size,
        "entries": report.entries,
        "pinned": report.pinned,
        **({"vkey": document.vkey} if isinstance(document, Bundle) else {}),
        **extra,
        **remembered,
    }
    if not report.pinned:
        summary["warning"] = UNPINNED
        typer.echo(f"WARNING: {UNPINNED}", err=True)
    _echo_json(summary)
    typer.echo(f"OK: {report.entries} entries verified against checkpoint {report.tree_size}", err=True)


def _promise(raw: bytes, where: Path) -> InclusionPromise:
    """A promise document, or a whole ``202`` response body that carries one in ``promise``."""
    try:
        document = json.loads(raw)
        if isinstance(document, dict) and isinstance(document.get("promise"), dict):
            document = document["promise"]
        if not isinstance(document, dict):
            raise MalformedPromise("a promise is a JSON object")
        return InclusionPromise.from_json(document)
    except (ValueError, MalformedPromise) as error:
        raise CliFailure("MALFORMED_PROOF", f"{where}: {error}") from None


def promise_verify(
    promise_file: Annotated[Path, typer.Argument(metavar="PROMISE.json")],
    vkey: Annotated[str, typer.Option("--vkey", help="Verifier key (string or file), obtained out of band.")],
    proof: Annotated[
        Path | None, typer.Option("--proof", help="The inclusion proof fetched later: it must keep the promise.")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Verify a signed promise of inclusion offline (the 202 answer to ``Prefer: respond-async``), and with
    --proof that the proof verifies and shows the promised leaf index and leaf hash (docs/proofs.md).

    Reads only the files given: --data-dir and --database-url are accepted like everywhere but never opened.
    """
    trusted = verifiers([vkey])
    promise = _promise(_read(promise_file, "PROMISE.json"), promise_file)
    try:
        verify_promise(promise, trusted[0])
        kept: dict[str, Any] = {}
        if proof is not None:
            document = read_document(_read(proof, "proof"))
            report = verify_document(document, trusted)
            if not isinstance(document, InclusionProof):
                raise CliFailure("MALFORMED_PROOF", f"{proof}: not an inclusion proof")
            check_kept(promise, document.to_json(), next(iter(report.checkpoints.values())).origin)
            kept = {"kept": True, "treeSize": document.tree_size}
    except MalformedProofJson as error:
        raise CliFailure("MALFORMED_PROOF", f"{proof}: {error}") from None
    except ProofError as error:
        raise _invalid(error) from None
    _echo_json({"valid": True, **promise.to_json(), **kept})


def register(proof_app: typer.Typer, audit_app: typer.Typer) -> None:
    """``proof verify``, ``proof verify-promise`` and ``audit verify``."""
    proof_app.command("verify")(proof_verify)
    proof_app.command("verify-promise")(promise_verify)
    audit_app.command("verify")(audit_verify)
