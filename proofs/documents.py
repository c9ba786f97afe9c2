"""One verifier for every proof document the ledger produces (docs/proofs.md, "The proof document format").

A document is an inclusion proof, a consistency proof, an audit bundle or a history proof, told apart
by its ``format`` (:mod:`proofs.bundle`; JSON Schema in docs/proof-document.schema.json). Whoever
produced it (the HTTP API's claim proof and audit proof, its consistency answer, ``ledger proof``,
``ledger export``, the SDK), :func:`verify_document` checks it the same way:

* the checkpoint notes (carried by the document, or given beside it) must be signed by a trusted key
  (C2SP signed-note); a bundle may fall back to its own ``vkey``, which proves only self-consistency;
* an inclusion proof's entry (carried or given) must hash to its ``leafHash`` (RFC 9162 section 2.1.1),
  and the path must lead to the root of the checkpoint of ``treeSize`` (section 2.1.3.2);
* a consistency proof must link the roots of the checkpoints of its two sizes (section 2.1.4.2);
* a bundle's entries are checked one by one (:func:`proofs.bundle.verify_bundle`).

Standard library and ``proofs`` only: the SDK ships this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from proofs.bundle import (
    BUNDLE_FORMAT,
    CONSISTENCY_FORMAT,
    HISTORY_FORMAT,
    INCLUSION_FORMAT,
    Bundle,
    BundleInvalid,
    ConsistencyProof,
    InclusionProof,
    MalformedProofJson,
    parse_bundle,
    parse_proof,
    verify_bundle,
    verify_proof,
)
from proofs.checkpoint import Checkpoint, parse_body
from proofs.errors import ProofError
from proofs.note import NoteVerifier, open_note, parse_vkey

__all__ = ["DocumentReport", "read_document", "verify_document"]

Document = InclusionProof | ConsistencyProof | Bundle


@dataclass(frozen=True)
class DocumentReport:
    """What a verified document showed: its format, the checkpoints it was checked against (by size),
    how many entries, and whether a trusted (pinned) key signed the checkpoints."""

    format: str
    checkpoints: Mapping[int, Checkpoint]
    entries: int
    pinned: bool
    document: Document = field(repr=False)
    notes: Mapping[int, str] = field(default_factory=dict, repr=False)
    """The signed note of each checkpoint, by size."""

    @property
    def tree_size(self) -> int:
        """The largest checkpointed size the document was checked against."""
        return max(self.checkpoints)


def read_document(doc: Any) -> Document:
    """Parse any proof document (a JSON object, or its text); raises ``MalformedProofJson``."""
    if isinstance(doc, (str, bytes)):
        try:
            doc = json.loads(doc)
        except (ValueError, UnicodeDecodeError) as error:
            raise MalformedProofJson(f"not JSON: {error}") from None
        except RecursionError:  # "[" x 1,000 exhausts the decoder's recursion: refused like any bad JSON
            raise MalformedProofJson("not JSON: nested too deeply") from None
    if isinstance(doc, dict) and "format" not in doc and isinstance(doc.get("proof"), dict) and "claimId" in doc:
        doc = doc["proof"]  # a claim's whole verification response (GET /api/v1/claims/{id}/proof): its proof
    if isinstance(doc, dict) and doc.get("format") in (BUNDLE_FORMAT, HISTORY_FORMAT):
        return parse_bundle(json.dumps(doc))
    return parse_proof(doc)


def _verifiers(trusted: Sequence[str | NoteVerifier]) -> list[NoteVerifier]:
    return [parse_vkey(key) if isinstance(key, str) else key for key in trusted]


def _heads(
    notes: Sequence[str | bytes], verifiers: Sequence[NoteVerifier]
) -> tuple[dict[int, Checkpoint], dict[int, str]]:
    heads: dict[int, Checkpoint] = {}
    texts: dict[int, str] = {}
    for note in notes:
        text, _ = open_note(note, verifiers)
        head = parse_body(text)
        heads[head.size] = head
        texts[head.size] = note if isinstance(note, str) else note.decode("utf-8")
    return heads, texts


def verify_document(
    doc: Any,
    trusted: Sequence[str | NoteVerifier] = (),
    *,
    checkpoints: Sequence[str | bytes] = (),
    entry: bytes | None = None,
) -> DocumentReport:
    """Verify any proof document offline; raises a ``ProofError`` naming what failed.

    ``trusted``: verifier keys obtained out of band (a proof needs one; a bundle without one is checked
    against its own vkey and reported unpinned). ``checkpoints``: signed notes beside the document (the
    ones it carries are used too). ``entry``: the leaf's bytes, for an inclusion proof that lacks them.
    """
    document = doc if isinstance(doc, (InclusionProof, ConsistencyProof, Bundle)) else read_document(doc)
    verifiers = _verifiers(trusted)
    if isinstance(document, Bundle):
        report = verify_bundle(document, verifiers)
        heads = {report.checkpoint.size: report.checkpoint}
        notes = {report.checkpoint.size: document.checkpoint}
        return DocumentReport(document.format, heads, report.entries, report.pinned, document, notes)
    if not verifiers:
        raise BundleInvalid("checkpoint", "a proof is checked against a verifier key obtained out of band (vkey)")
    carried = (
        [document.checkpoint]
        if isinstance(document, InclusionProof)
        else [document.from_checkpoint, document.to_checkpoint]
    )
    given = [note for note in (*carried, *checkpoints) if note is not None]
    try:
        heads, notes = _heads(given, verifiers)
    except ProofError as error:
        raise BundleInvalid("checkpoint", f"not signed by the trusted key: {error}") from error
    if isinstance(document, InclusionProof):
        leaf = entry if entry is not None else document.entry
        _check_stated_root(document, heads)
        verify_proof(document, heads, leaf)
        return DocumentReport(INCLUSION_FORMAT, heads, 1, True, document, notes)
    verify_proof(document, heads)
    return DocumentReport(CONSISTENCY_FORMAT, heads, 0, True, document, notes)


def _check_stated_root(proof: InclusionProof, heads: Mapping[int, Checkpoint]) -> None:
    """A ``merkleRoot`` the document states must be the signed root of its tree size."""
    stated = proof.extra.get("merkleRoot")
    head = heads.get(proof.tree_size)
    if stated is not None and head is not None and stated != head.root_hash.hex():
        raise BundleInvalid("merkleRoot", f"document says {stated}, the signed checkpoint says {head.root_hash.hex()}")
