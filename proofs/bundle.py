"""Proofs as JSON, and audit bundles: entries (opaque bytes) with inclusion proofs and a signed checkpoint.

JSON shapes (docs/proofs.md sections 3, 4 and "Audit bundles"); hashes are lowercase hex:

    inclusion    {"leafIndex", "treeSize", "leafHash", "inclusionPath": [...]}
    consistency  {"fromSize", "toSize", "consistencyPath": [...]}
    bundle       {"format", "subject", "treeSize", "checkpoint", "vkey",
                  "entries": [{"leafIndex", "entry": <base64>, "leafHash", "inclusionPath"}]}

A bundle's verifier needs no knowledge of what the entries mean: each entry is hashed as bytes
(RFC 9162 leaf hash), its path is checked against the root of the checkpoint, and the checkpoint's
signature is checked. The bundle carries its own verifier key for convenience only: a key shipped
next to what it signs proves nothing unless the auditor pins it (compares it with one obtained out
of band). Standard library and `proofs` only.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from proofs.checkpoint import Checkpoint, parse_body, verify_checkpoint
from proofs.errors import ProofError
from proofs.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash
from proofs.note import NoteVerifier, open_note, parse_vkey
from proofs.verify import verify_consistency, verify_inclusion

__all__ = [
    "BUNDLE_FORMAT",
    "HISTORY_FORMAT",
    "Bundle",
    "BundleEntry",
    "BundleInvalid",
    "BundleReport",
    "ConsistencyProof",
    "InclusionProof",
    "MalformedProofJson",
    "parse_bundle",
    "parse_proof",
    "verify_bundle",
    "verify_proof",
    "write_bundle",
]

BUNDLE_FORMAT = "proveniq-ledger/audit-bundle/v1"
HISTORY_FORMAT = "proveniq-ledger/history-proof/v1"


class MalformedProofJson(ProofError):
    """A proof or bundle document that does not have the documented JSON shape."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"malformed proof document: {self.reason}"


class BundleInvalid(ProofError):
    """A bundle that does not verify; ``where`` names the part (``checkpoint``, ``entry 3 (leafIndex 17)``)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(where, reason)
        self.where = where
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def _load_json(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedProofJson(f"not JSON: {error}") from None
    except RecursionError:  # "[" x 1,000 exhausts the decoder's recursion: refused like any bad JSON
        raise MalformedProofJson("not JSON: nested too deeply") from None


def _int(doc: Mapping[str, Any], key: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedProofJson(f"{key!r} must be a non-negative integer")
    return value


def _hash(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * HASH_SIZE or value != value.lower():
        raise MalformedProofJson(f"{what} must be {2 * HASH_SIZE} lowercase hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise MalformedProofJson(f"{what} must be {2 * HASH_SIZE} lowercase hex digits") from None


def _path(doc: Mapping[str, Any], key: str) -> tuple[bytes, ...]:
    value = doc.get(key)
    if not isinstance(value, list):
        raise MalformedProofJson(f"{key!r} must be a list of hex hashes")
    return tuple(_hash(item, f"{key}[{i}]") for i, item in enumerate(value))


def _str(doc: Mapping[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise MalformedProofJson(f"{key!r} must be a string")
    return value


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 inclusion proof of leaf ``leaf_index`` in the tree of ``tree_size`` leaves."""

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "leafIndex": self.leaf_index,
            "treeSize": self.tree_size,
            "leafHash": self.leaf_hash.hex(),
            "inclusionPath": [h.hex() for h in self.path],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> InclusionProof:
        return cls(
            _int(doc, "leafIndex"),
            _int(doc, "treeSize"),
            _hash(doc.get("leafHash"), "leafHash"),
            _path(doc, "inclusionPath"),
        )

    def verify(self, root: bytes) -> None:
        """Raise a `ProofError` unless the path leads from the leaf hash to ``root``."""
        verify_inclusion(self.leaf_hash, self.leaf_index, self.tree_size, self.path, root)


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 consistency proof from tree size ``from_size`` to ``to_size``."""

    from_size: int
    to_size: int
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {"fromSize": self.from_size, "toSize": self.to_size, "consistencyPath": [h.hex() for h in self.path]}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ConsistencyProof:
        return cls(_int(doc, "fromSize"), _int(doc, "toSize"), _path(doc, "consistencyPath"))

    def verify(self, old_root: bytes, new_root: bytes) -> None:
        """Raise a `ProofError` unless the tree (to_size, new_root) extends (from_size, old_root)."""
        verify_consistency(self.from_size, self.to_size, old_root, new_root, self.path)


def verify_proof(
    proof: InclusionProof | ConsistencyProof, checkpoints: Mapping[int, Checkpoint], entry: bytes | None = None
) -> None:
    """Verify a proof against already-verified checkpoints, keyed by tree size (size 0 is the empty tree).

    For an inclusion proof, ``entry`` (when given) must hash to its leaf hash. Raises `ProofError`.
    """

    def root(size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        if size not in checkpoints:
            raise BundleInvalid("checkpoint", f"no verified checkpoint of size {size} was given")
        return checkpoints[size].root_hash

    if isinstance(proof, InclusionProof):
        if entry is not None and leaf_hash(entry) != proof.leaf_hash:
            raise BundleInvalid("entry", f"hashes to {leaf_hash(entry).hex()}, not to leafHash")
        proof.verify(root(proof.tree_size))
    else:
        proof.verify(root(proof.from_size), root(proof.to_size))


def parse_proof_document(text: str | bytes) -> InclusionProof | ConsistencyProof:
    """A proof document as read from a file (JSON text); raises `MalformedProofJson`."""
    return parse_proof(_load_json(text))


def parse_proof(doc: Any) -> InclusionProof | ConsistencyProof:
    """An inclusion or consistency proof document, told apart by its keys; raises `MalformedProofJson`."""
    if not isinstance(doc, dict):
        raise MalformedProofJson("a proof is a JSON object")
    if "inclusionPath" in doc:
        return InclusionProof.from_json(doc)
    if "consistencyPath" in doc:
        return ConsistencyProof.from_json(doc)
    raise MalformedProofJson("neither 'inclusionPath' nor 'consistencyPath' present")


@dataclass(frozen=True)
class BundleEntry:
    """One entry of a bundle: its leaf index, its exact bytes and its inclusion path."""

    leaf_index: int
    entry: bytes
    inclusion_path: tuple[bytes, ...]
    stated_leaf_hash: bytes | None = None  # as read from a document; None when built here

    def to_json(self) -> dict[str, Any]:
        return {
            "leafIndex": self.leaf_index,
            "entry": base64.b64encode(self.entry).decode("ascii"),
            "leafHash": leaf_hash(self.entry).hex(),
            "inclusionPath": [h.hex() for h in self.inclusion_path],
        }


@dataclass(frozen=True)
class Bundle:
    """A parsed bundle document (not yet verified)."""

    format: str
    tree_size: int
    checkpoint: str
    vkey: str
    entries: tuple[BundleEntry, ...]
    subject: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BundleReport:
    """What a verified bundle proved: the checkpoint, how many entries, and whether the key was pinned."""

    checkpoint: Checkpoint
    entries: int
    vkey: str
    pinned: bool


def write_bundle(
    out: TextIO,
    *,
    format: str,
    checkpoint: str,
    vkey: str,
    tree_size: int,
    entries: Iterable[BundleEntry],
    subject: Mapping[str, Any] | None = None,
) -> int:
    """Stream a bundle document to ``out`` (entries one per line, never all in memory); return the count."""
    head = {
        "format": format,
        "subject": dict(subject or {}),
        "treeSize": tree_size,
        "checkpoint": checkpoint,
        "vkey": vkey,
    }
    out.write(json.dumps(head, sort_keys=True)[:-1] + ', "entries": [')
    count = 0
    for entry in entries:
        out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(entry.to_json(), sort_keys=True))
        count += 1
    out.write("\n]}\n")
    return count


def _entry(doc: Any, i: int) -> BundleEntry:
    if not isinstance(doc, dict):
        raise MalformedProofJson(f"entries[{i}] must be an object")
    text = _str(doc, "entry")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MalformedProofJson(f"entries[{i}].entry must be standard base64") from None
    return BundleEntry(_int(doc, "leafIndex"), raw, _path(doc, "inclusionPath"), _hash(doc.get("leafHash"), "leafHash"))


def parse_bundle(text: str | bytes, formats: Sequence[str] = (BUNDLE_FORMAT, HISTORY_FORMAT)) -> Bundle:
    """Parse a bundle document of one of ``formats``; raises `MalformedProofJson`."""
    doc = _load_json(text)
    if not isinstance(doc, dict):
        raise MalformedProofJson("a bundle is a JSON object")
    kind = _str(doc, "format")
    if kind not in formats:
        raise MalformedProofJson(f"format {kind!r} is not one of {', '.join(formats)}")
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise MalformedProofJson("'entries' must be a list")
    subject = doc.get("subject", {})
    if not isinstance(subject, dict):
        raise MalformedProofJson("'subject' must be an object")
    return Bundle(
        kind,
        _int(doc, "treeSize"),
        _str(doc, "checkpoint"),
        _str(doc, "vkey"),
        tuple(_entry(e, i) for i, e in enumerate(entries)),
        subject,
    )


def verify_bundle(bundle: Bundle, trusted: Sequence[str | NoteVerifier] = ()) -> BundleReport:
    """Check every entry's leaf hash and inclusion proof, and the checkpoint's signature.

    The checkpoint must verify against the bundle's own ``vkey`` and, when ``trusted`` keys are given
    (pinned out of band), against at least one of them. Raises `BundleInvalid` naming the first part
    that fails. Returns a report; ``pinned`` says whether a trusted key was checked.
    """
    try:
        own = parse_vkey(bundle.vkey)
        checkpoint = verify_checkpoint(bundle.checkpoint, own)
    except ProofError as error:
        raise BundleInvalid("checkpoint", f"does not verify against the bundle's vkey: {error}") from error
    if trusted:
        try:
            pinned = [parse_vkey(k) if isinstance(k, str) else k for k in trusted]
            text, _ = open_note(bundle.checkpoint, pinned)
            checkpoint = parse_body(text)
        except ProofError as error:
            raise BundleInvalid("checkpoint", f"not signed by the pinned key: {error}") from error
    if bundle.tree_size != checkpoint.size:
        raise BundleInvalid("treeSize", f"bundle says {bundle.tree_size}, checkpoint says {checkpoint.size}")
    previous = -1
    for i, item in enumerate(bundle.entries):
        where = f"entry {i} (leafIndex {item.leaf_index})"
        if item.leaf_index <= previous:
            raise BundleInvalid(where, "leaf indexes must be strictly increasing")
        previous = item.leaf_index
        computed = leaf_hash(item.entry)
        if item.stated_leaf_hash is not None and item.stated_leaf_hash != computed:
            raise BundleInvalid(
                where,
                f"leaf hash mismatch: entry bytes hash to {computed.hex()}, bundle says {item.stated_leaf_hash.hex()}",
            )
        try:
            verify_inclusion(computed, item.leaf_index, checkpoint.size, item.inclusion_path, checkpoint.root_hash)
        except ProofError as error:
            raise BundleInvalid(where, f"inclusion proof does not verify against the checkpoint: {error}") from error
    return BundleReport(checkpoint, len(bundle.entries), bundle.vkey, bool(trusted))
