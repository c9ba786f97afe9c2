"""proofs.bundle: proof JSON and audit bundles treat entries as opaque bytes; every tampering is named."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from proofs import (
    Checkpoint,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    signed_checkpoint,
    verify_checkpoint,
)
from proofs.bundle import (
    BUNDLE_FORMAT,
    INCLUSION_FORMAT,
    BundleEntry,
    BundleInvalid,
    ConsistencyProof,
    InclusionProof,
    MalformedProofJson,
    MissingProofField,
    parse_bundle,
    parse_proof,
    verify_bundle,
    verify_proof,
    write_bundle,
)
from proofs.note import NoteSigner, generate_signer

ENTRIES = [f"opaque entry {i}".encode() * (i % 3 + 1) for i in range(21)]


class Tree:
    """A small tree of opaque entries with its nodes, signed at two sizes."""

    def __init__(self, signer: NoteSigner) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        compact = CompactRange()
        self.notes: dict[int, str] = {}
        for i, entry in enumerate(ENTRIES):
            self.nodes.update({(n.level, n.index): n.hash for n in compact.append(leaf_hash(entry))})
            if i + 1 in (13, 21):
                self.notes[i + 1] = signed_checkpoint(Checkpoint("example/log", i + 1, compact.root()), signer)

    def fetch(self, ids: Any) -> dict[tuple[int, int], bytes]:
        return {i: self.nodes[i] for i in ids}

    def bundle(self, signer: NoteSigner, picks: list[int], size: int = 21) -> dict[str, Any]:
        entries = [BundleEntry(i, ENTRIES[i], tuple(inclusion_proof(i, size, self.fetch))) for i in picks]
        out = io.StringIO()
        write_bundle(
            out,
            format=BUNDLE_FORMAT,
            checkpoint=self.notes[size],
            vkey=signer.verifier().vkey,
            tree_size=size,
            entries=entries,
            subject={"partnerId": "p"},
        )
        doc: dict[str, Any] = json.loads(out.getvalue())
        return doc


@pytest.fixture(scope="module")
def key() -> NoteSigner:
    return generate_signer("example/log")


@pytest.fixture(scope="module")
def tree(key: NoteSigner) -> Tree:
    return Tree(key)


def check(doc: dict[str, Any], trusted: list[str] | None = None) -> Any:
    return verify_bundle(parse_bundle(json.dumps(doc)), trusted or [])


def test_bundle_round_trip_verifies(tree: Tree, key: NoteSigner) -> None:
    """A written bundle parses back and verifies, pinned or not."""
    doc = tree.bundle(key, [0, 4, 5, 20])
    assert check(doc).entries == 4
    report = check(doc, [key.verifier().vkey])
    assert (report.pinned, report.checkpoint.size) == (True, 21)


def test_empty_bundle_verifies_the_checkpoint_only(tree: Tree, key: NoteSigner) -> None:
    """A partner without entries still gets a verifiable (signed) checkpoint."""
    assert check(tree.bundle(key, [])).entries == 0


def test_flipped_entry_byte(tree: Tree, key: NoteSigner) -> None:
    """Changing an entry byte without updating leafHash: a leaf hash mismatch naming the entry."""
    doc = tree.bundle(key, [3, 7])
    doc["entries"][1]["entry"] = doc["entries"][1]["entry"].replace("b", "c", 1)
    with pytest.raises(BundleInvalid, match=r"entry 1 \(leafIndex 7\): leaf hash mismatch"):
        check(doc)


def test_flipped_proof_hash(tree: Tree, key: NoteSigner) -> None:
    """Changing one hex digit of a path: the inclusion proof no longer reaches the root."""
    doc = tree.bundle(key, [3, 7])
    path = doc["entries"][0]["inclusionPath"]
    path[1] = ("0" if path[1][0] != "0" else "1") + path[1][1:]
    with pytest.raises(BundleInvalid, match=r"entry 0 \(leafIndex 3\): inclusion proof does not verify"):
        check(doc)


def test_moved_leaf_index(tree: Tree, key: NoteSigner) -> None:
    """Claiming an entry sits at another index fails its proof."""
    doc = tree.bundle(key, [3, 7])
    doc["entries"][0]["leafIndex"] = 2
    with pytest.raises(BundleInvalid, match="leafIndex 2"):
        check(doc)


def test_flipped_note_byte(tree: Tree, key: NoteSigner) -> None:
    """Changing the checkpoint text (here its size) fails the signature."""
    doc = tree.bundle(key, [3])
    doc["checkpoint"] = doc["checkpoint"].replace("\n21\n", "\n20\n")
    with pytest.raises(BundleInvalid, match="checkpoint: does not verify"):
        check(doc)


def test_forged_bundle_passes_alone_but_not_against_the_pinned_key(tree: Tree, key: NoteSigner) -> None:
    """A forger's own key makes a self-consistent bundle; only pinning the real vkey exposes it."""
    forger = generate_signer("example/log")
    forged = Tree(forger).bundle(forger, [1, 2])
    assert not check(forged).pinned
    with pytest.raises(BundleInvalid, match="not signed by the pinned key"):
        check(forged, [key.verifier().vkey])


def test_tree_size_must_match_the_checkpoint(tree: Tree, key: NoteSigner) -> None:
    """The treeSize field cannot disagree with the signed checkpoint."""
    doc = tree.bundle(key, [1])
    doc["treeSize"] = 13
    with pytest.raises(BundleInvalid, match="treeSize"):
        check(doc)


def test_entries_must_be_in_order(tree: Tree, key: NoteSigner) -> None:
    """Duplicated or unordered leaf indexes are refused."""
    doc = tree.bundle(key, [5, 5])
    with pytest.raises(BundleInvalid, match="strictly increasing"):
        check(doc)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("vkey"), "required field 'vkey' is missing"),
        (lambda d: d.update(vkey=7), "'vkey' must be a string"),
        (lambda d: d["entries"][0].pop("leafHash"), "required field 'leafHash' is missing"),
        (lambda d: d.update(format="other/v9"), "format"),
        (lambda d: d["entries"][0].update(entry="not base64!"), "base64"),
        (lambda d: d["entries"][0].update(leafIndex=True), "leafIndex"),
        (lambda d: d["entries"][0]["inclusionPath"].append("AB" * 32), "lowercase hex"),
    ],
)
def test_malformed_documents(tree: Tree, key: NoteSigner, edit: Any, message: str) -> None:
    """Shape errors are reported as MalformedProofJson before anything is verified."""
    doc = tree.bundle(key, [1])
    edit(doc)
    with pytest.raises(MalformedProofJson, match=message):
        parse_bundle(json.dumps(doc))


def test_proof_documents_round_trip_and_verify(tree: Tree, key: NoteSigner) -> None:
    """Inclusion and consistency JSON (docs/proofs.md shapes) parse back and verify against checkpoints."""
    heads = {size: verify_checkpoint(note, key.verifier()) for size, note in tree.notes.items()}
    inclusion = InclusionProof(9, 21, leaf_hash(ENTRIES[9]), tuple(inclusion_proof(9, 21, tree.fetch)))
    parsed = parse_proof(json.loads(json.dumps(inclusion.to_json())))
    assert parsed == inclusion
    verify_proof(parsed, heads, ENTRIES[9])
    consistency = ConsistencyProof(13, 21, tuple(consistency_proof(13, 21, tree.fetch)))
    assert parse_proof(consistency.to_json()) == consistency
    verify_proof(consistency, heads)
    verify_proof(ConsistencyProof(0, 21, ()), heads)
    with pytest.raises(BundleInvalid, match="hashes to"):
        verify_proof(parsed, heads, b"other bytes")
    with pytest.raises(BundleInvalid, match="no verified checkpoint of size 20"):
        verify_proof(ConsistencyProof(13, 20, ()), heads)
    with pytest.raises(MissingProofField, match="required field 'format' is missing"):
        parse_proof({"leafIndex": 1})
    with pytest.raises(MissingProofField, match="required field 'leafHash' is missing"):
        parse_proof({"format": INCLUSION_FORMAT, "leafIndex": 1, "treeSize": 2, "inclusionPath": []})
    legacy = {**inclusion.to_json(), "hash": leaf_hash(ENTRIES[9]).hex()}  # a claim proof before the format
    del legacy["leafHash"], legacy["format"]
    assert parse_proof(legacy) == inclusion
