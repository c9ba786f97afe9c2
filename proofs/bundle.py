"""Proofs as JSON, and audit bundles: entries (opaque bytes) with inclusion proofs and a signed checkpoint.

JSON shapes (docs/proofs.md "The proof document format", docs/proof-document.schema.json); every
document names its ``format`` (a version); hashes are lowercase hex:

    inclusion    {"format": INCLUSION_FORMAT, "leafIndex", "treeSize", "leafHash", "inclusionPath": [...],
                  optional "entry": <base64>, "checkpoint": <signed note>, "merkleRoot", ...}
    consistency  {"format": CONSISTENCY_FORMAT, "fromSize", "toSize", "consistencyPath": [...],
                  optional "fromCheckpoint", "toCheckpoint": <signed notes>}
    bundle       {"format", "subject", "treeSize", "checkpoint", "vkey",
                  "entries": [{"leafIndex", "entry": <base64>, "leafHash", "inclusionPath"}]}

Readers also accept documents written before formats were named (no ``format``: told apart by their
keys) and the claim proof's former ``hash`` for ``leafHash``. A missing field is reported as
missing (:class:`MissingProofField`), a present but wrong one as malformed.

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
    "CONSISTENCY_FORMAT",
    "HISTORY_FORMAT",
    "INCLUSION_FORMAT",
    "Bundle",
    "BundleEntry",
    "BundleInvalid",
    "BundleReport",
    "ConsistencyProof",
    "InclusionProof",
    "MalformedProofJson",
    "MissingProofField",
    "parse_bundle",
    "parse_proof",
    "verify_bundle",
    "verify_proof",
    "write_bundle",
]

BUNDLE_FORMAT = "proveniq-ledger/audit-bundle/v1"
HISTORY_FORMAT = "proveniq-ledger/history-proof/v1"
INCLUSION_FORMAT = "proveniq-ledger/inclusion-proof/v1"
CONSISTENCY_FORMAT = "proveniq-ledger/consistency-proof/v1"
LEGACY_LEAF_HASH = "hash"
"""The claim proof's name for ``leafHash`` before the formats were unified (still served, still read)."""
_INCLUSION_KEYS = frozenset(
    {"format", "leafIndex", "treeSize", "leafHash", LEGACY_LEAF_HASH, "inclusionPath", "entry", "checkpoint"}
)


class MalformedProofJson(ProofError):
    """A proof or bundle document that does not have the documented JSON shape."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"malformed proof document: {self.reason}"


class MissingProofField(MalformedProofJson):
    """A required field is absent (as opposed to present with a wrong value)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"required field {key!r} is missing")
        self.key = key


class BundleInvalid(ProofError):
    """A bundle that does not verify; ``where`` names the part (``checkpoint``, ``entry 3 (leafIndex 17)``)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(where, reason)
        self.where = where
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def _required(doc: Mapping[str, Any], key: str) -> Any:
    if key not in doc:
        raise MissingProofField(key)
    return doc[key]


def _load_json(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedProofJson(f"not JSON: {error}") from None
    except RecursionError:  # "[" x 1,000 exhausts the decoder's recursion: refused like any bad JSON
        raise MalformedProofJson("not JSON: nested too deeply") from None


def _int(doc: Mapping[str, Any], key: str) -> int:
    value = _required(doc, key)
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
    value = _required(doc, key)
    if not isinstance(value, list):
        raise MalformedProofJson(f"{key!r} must be a list of hex hashes")
    return tuple(_hash(item, f"{key}[{i}]") for i, item in enumerate(value))


def _str(doc: Mapping[str, Any], key: str) -> str:
    value = _required(doc, key)
    if not isinstance(value, str):
        raise MalformedProofJson(f"{key!r} must be a string")
    return value


def _optional_str(doc: Mapping[str, Any], key: str) -> str | None:
    return None if doc.get(key) is None else _str(doc, key)


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MalformedProofJson(f"{what} must be standard base64") from None


def _check_format(doc: Mapping[str, Any], expected: str) -> None:
    if "format" in doc and doc["format"] != expected:
        raise MalformedProofJson(f"format {doc['format']!r} is not {expected}")


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 inclusion proof of leaf ``leaf_index`` in the tree of ``tree_size`` leaves.

    ``entry`` (the leaf's bytes) and ``checkpoint`` (the signed note of ``tree_size``) travel with the
    proof when known, so the document verifies on its own; ``extra`` keeps the producer's other fields
    (``merkleRoot``, ``ledgerEventId``, ``timestamp``) so a document round-trips.
    """

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]
    entry: bytes | None = None
    checkpoint: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            **self.extra,
            "format": INCLUSION_FORMAT,
            "leafIndex": self.leaf_index,
            "treeSize": self.tree_size,
            "leafHash": self.leaf_hash.hex(),
            "inclusionPath": [h.hex() for h in self.path],
        }
        if self.entry is not None:
            doc["entry"] = base64.b64encode(self.entry).decode("ascii")
        if self.checkpoint is not None:
            doc["checkpoint"] = self.checkpoint
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> InclusionProof:
        _check_format(doc, INCLUSION_FORMAT)
        key = "leafHash" if "leafHash" in doc or LEGACY_LEAF_HASH not in doc else LEGACY_LEAF_HASH
        entry = _optional_str(doc, "entry")
        return cls(
            _int(doc, "leafIndex"),
            _int(doc, "treeSize"),
            _hash(_required(doc, key), key),
            _path(doc, "inclusionPath"),
            None if entry is None else _base64(entry, "entry"),
            _optional_str(doc, "checkpoint"),
            {k: v for k, v in doc.items() if k not in _INCLUSION_KEYS},
        )

    def verify(self, root: bytes) -> None:
        """Raise a `ProofError` unless the path leads from the leaf hash to ``root``."""
        verify_inclusion(self.leaf_hash, self.leaf_index, self.tree_size, self.path, root)


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 consistency proof from tree size ``from_size`` to ``to_size`` (with the two signed
    checkpoints when known; none for size 0, the empty tree)."""

    from_size: int
    to_size: int
    path: tuple[bytes, ...]
    from_checkpoint: str | None = None
    to_checkpoint: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": CONSISTENCY_FORMAT,
            "fromSize": self.from_size,
            "toSize": self.to_size,
            "consistencyPath": [h.hex() for h in self.path],
        }
        if self.from_checkpoint is not None:
            doc["fromCheckpoint"] = self.from_checkpoint
        if self.to_checkpoint is not None:
            doc["toCheckpoint"] = self.to_checkpoint
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ConsistencyProof:
        _check_format(doc, CONSISTENCY_FORMAT)
        return cls(
            _int(doc, "fromSize"),
            _int(doc, "toSize"),
            _path(doc, "consistencyPath"),
            _optional_str(doc, "fromCheckpoint"),
            _optional_str(doc, "toCheckpoint"),
        )

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
    """An inclusion or consistency proof document, by its ``format`` (or, for a document older than
    the formats, by its keys); raises `MalformedProofJson` (`MissingProofField` for an absent field)."""
    if not isinstance(doc, dict):
        raise MalformedProofJson("a proof is a JSON object")
    kind = doc.get("format")
    if kind == INCLUSION_FORMAT or (kind is None and "inclusionPath" in doc):
        return InclusionProof.from_json(doc)
    if kind == CONSISTENCY_FORMAT or (kind is None and "consistencyPath" in doc):
        return ConsistencyProof.from_json(doc)
    if kind is not None:
        raise MalformedProofJson(f"format {kind!r} is not {INCLUSION_FORMAT} or {CONSISTENCY_FORMAT}")
    raise MissingProofField("format")


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
    raw = _base64(_str(doc, "entry"), f"entries[{i}].entry")
    stated = _hash(_required(doc, "leafHash"), "leafHash")
    return BundleEntry(_int(doc, "leafIndex"), raw, _path(doc, "inclusionPath"), stated)


def parse_bundle(text: str | bytes, formats: Sequence[str] = (BUNDLE_FORMAT, HISTORY_FORMAT)) -> Bundle:
    """Parse a bundle document of one of ``formats``; raises `MalformedProofJson`."""
    doc = _load_json(text)
    if not isinstance(doc, dict):
        raise MalformedProofJson("a bundle is a JSON object")
    kind = _str(doc, "format")
    if kind not in formats:
        raise MalformedProofJson(f"format {kind!r} is not one of {', '.join(formats)}")
    entries = _required(doc, "entries")
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
