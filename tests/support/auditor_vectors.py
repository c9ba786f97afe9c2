"""The auditor console's test vectors (``tests/data/auditor_vectors.json``), and the Python side of checking them.

Two kinds of vectors, each naming its ``source``:

* **independent**: values copied from published sources, never computed here: the RFC 6962 / transparency-dev
  Merkle test data (``tests/data/rfc6962_vectors.json``), the C2SP / Go signed-note example and a real
  sum.golang.org checkpoint (``signed_note_vectors.json``), the tlog-cosignature known answer
  (``cosignature_vectors.json``) and the worked example of docs/proofs.md; plus tampered copies of them;
* **generated**: made by this project's ``proofs`` package (a signed log of real ledger envelopes from
  :mod:`support.signed_log`): every inclusion and consistency proof of a 5-entry log, proof documents,
  an audit bundle and a history proof, and tampered copies (changed leaf, root, path, signature, key).

Every vector states its ``expect``: ``"ok"`` or the failure category (:func:`python_outcome` maps the
Python verifier's exceptions to the same categories as ``verify.js``'s ``VerifyError.code``). The unit
test checks the Python verifier against every ``expect`` and that the file is up to date; the browser
test (tests/e2e/test_auditor_browser.py) runs ``verify.js`` on every vector. Regenerate with
``python -m support.auditor_vectors`` from ``tests/``.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proofs import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    parse_body,
    parse_vkey,
)
from proofs.bundle import HISTORY_FORMAT, BundleInvalid, MalformedProofJson
from proofs.cosignature import CosignatureMissing, parse_cosigner_vkey, verify_cosignatures
from proofs.documents import verify_document
from proofs.errors import (
    InvalidIndex,
    InvalidProofShape,
    InvalidTreeSizes,
    MalformedCheckpoint,
    MalformedKey,
    MalformedNote,
    ProofError,
    RootMismatch,
    SignatureInvalid,
    UnverifiedNote,
)
from proofs.note import open_note
from proofs.verify import verify_consistency, verify_inclusion
from support.signed_log import SIGNER, TREE, VKEY

DATA = Path(__file__).resolve().parent.parent / "data"
VECTORS = DATA / "auditor_vectors.json"
Vector = dict[str, Any]

CATEGORIES: list[tuple[type[ProofError], str]] = [
    (RootMismatch, "root-mismatch"),
    (InvalidProofShape, "malformed-proof"),
    (InvalidIndex, "invalid-argument"),
    (InvalidTreeSizes, "invalid-argument"),
    (SignatureInvalid, "bad-signature"),
    (CosignatureMissing, "bad-signature"),
    (UnverifiedNote, "no-trusted-signature"),
    (MalformedNote, "malformed-note"),
    (MalformedCheckpoint, "malformed-checkpoint"),
    (MalformedKey, "malformed-key"),
]
"""Python exception -> the category ``verify.js`` reports (its ``VerifyError.code``)."""


def _flip(hex_text: str, at: int = 0) -> str:
    """``hex_text`` with one bit of its byte ``at`` flipped (a tampered hash)."""
    raw = bytearray(bytes.fromhex(hex_text))
    raw[at] ^= 0x01
    return raw.hex()


def _flip_signature(note: str) -> str:
    """``note`` with one bit of its first signature flipped (base64 re-encoded: a well-formed forgery)."""
    text, _, lines = note.rpartition("\n\n")
    first, _, rest = lines.partition("\n")
    name, _, b64 = first.partition(" ")[2].partition(" ")
    blob = bytearray(base64.b64decode(b64))
    blob[10] ^= 0x01
    return f"{text}\n\n\u2014 {name} {base64.b64encode(bytes(blob)).decode()}\n{rest}"


def _tampered_inclusion(base: Vector, source: str) -> list[Vector]:
    name = base["name"]
    cases = [
        {**base, "name": f"{name}: changed leaf", "leafHash": _flip(base["leafHash"]), "expect": "root-mismatch"},
        {**base, "name": f"{name}: changed root", "root": _flip(base["root"], 31), "expect": "root-mismatch"},
        {**base, "name": f"{name}: index past the tree", "leafIndex": base["treeSize"], "expect": "invalid-argument"},
        {
            **base,
            "name": f"{name}: path too long",
            "path": [*base["path"], base["leafHash"]],
            "expect": "malformed-proof",
        },
    ]
    if base["path"]:
        changed = [_flip(base["path"][0], 5), *base["path"][1:]]
        cases.append({**base, "name": f"{name}: changed path step", "path": changed, "expect": "root-mismatch"})
        cases.append(
            {**base, "name": f"{name}: path too short", "path": base["path"][:-1], "expect": "malformed-proof"}
        )
    return [{**case, "source": f"tampered {source}"} for case in cases]


def _tampered_consistency(base: Vector, source: str) -> list[Vector]:
    name = base["name"]
    cases = [
        {**base, "name": f"{name}: changed new root", "newRoot": _flip(base["newRoot"]), "expect": "root-mismatch"},
        {**base, "name": f"{name}: sizes reversed", "fromSize": base["toSize"], "toSize": base["fromSize"]},
    ]
    cases[1]["expect"] = "ok" if base["fromSize"] == base["toSize"] else "invalid-argument"
    if base["path"]:
        changed = [*base["path"][:-1], _flip(base["path"][-1], 7)]
        cases.append({**base, "name": f"{name}: changed path step", "path": changed, "expect": "root-mismatch"})
    if base["fromSize"] != base["toSize"]:
        cases.append({**base, "name": f"{name}: changed old root", "oldRoot": _flip(base["oldRoot"], 3)})
        cases[-1]["expect"] = "root-mismatch"
    return [{**case, "source": f"tampered {source}"} for case in cases]


def _independent_merkle() -> tuple[list[Vector], list[Vector], list[Vector]]:
    rfc = json.loads((DATA / "rfc6962_vectors.json").read_text(encoding="utf-8"))
    source = "RFC 6962 test data via transparency-dev/merkle (tests/data/rfc6962_vectors.json)"
    leaves = [
        {"name": f"leaf {i}", "source": source, "entry": entry, "leafHash": rfc["node_hashes"][0][i], "expect": "ok"}
        for i, entry in enumerate(rfc["leaves"])
    ]
    inclusion: list[Vector] = []
    for case in rfc["inclusion_proofs"]:
        index, size = case["leaf_index"], case["tree_size"]
        base = {
            "name": f"RFC 6962 inclusion of leaf {index} in {size}",
            "source": source,
            "leafHash": rfc["node_hashes"][0][index],
            "leafIndex": index,
            "treeSize": size,
            "path": case["path"],
            "root": rfc["roots"][size],
            "expect": "ok",
        }
        inclusion += [base, *_tampered_inclusion(base, source)]
    consistency: list[Vector] = []
    for case in rfc["consistency_proofs"]:
        old, new = case["old_size"], case["new_size"]
        base = {
            "name": f"RFC 6962 consistency {old} -> {new}",
            "source": source,
            "fromSize": old,
            "toSize": new,
            "oldRoot": rfc["roots"][old],
            "newRoot": rfc["roots"][new],
            "path": case["path"],
            "expect": "ok",
        }
        consistency += [base, *_tampered_consistency(base, source)]
    empty = {"name": "growth from the empty tree", "source": source, "fromSize": 0, "toSize": 8, "path": []}
    consistency.append({**empty, "oldRoot": rfc["roots"][0], "newRoot": rfc["roots"][8], "expect": "ok"})
    consistency.append({**empty, "name": "empty tree with a wrong root", "oldRoot": rfc["roots"][1]})
    consistency[-1].update(newRoot=rfc["roots"][8], expect="root-mismatch")
    return leaves, inclusion, consistency


def _independent_notes() -> tuple[list[Vector], list[Vector]]:
    notes = json.loads((DATA / "signed_note_vectors.json").read_text(encoding="utf-8"))
    cosig = json.loads((DATA / "cosignature_vectors.json").read_text(encoding="utf-8"))
    go, sumdb = notes["go_note"], notes["sumdb_checkpoint"]
    go_src, sumdb_src = "C2SP signed-note / Go sumdb/note example", "a real sum.golang.org checkpoint"
    cosig_src = "C2SP tlog-cosignature known answer (tests/data/cosignature_vectors.json)"
    other = notes["go_formats_keys"][0]["vkey"]
    checkpoints = [
        {"name": "sum.golang.org checkpoint", "source": sumdb_src, "note": sumdb["note"], "vkeys": [sumdb["vkey"]]},
        {"name": "sum.golang.org checkpoint, tampered signature", "source": f"tampered {sumdb_src}"},
        {"name": "sum.golang.org checkpoint, wrong key", "source": f"tampered {sumdb_src}", "note": sumdb["note"]},
        {"name": "Go example note is not a checkpoint", "source": go_src, "note": go["signed_note"]},
        {"name": "Go example note, tampered text", "source": f"tampered {go_src}"},
        {"name": "cosigned checkpoint", "source": cosig_src, "note": cosig["cosignedNote"]},
        {"name": "cosigned checkpoint, forged cosignature", "source": f"tampered {cosig_src}"},
    ]
    checkpoints[0]["expect"] = "ok"
    checkpoints[1].update(note=_flip_signature(sumdb["note"]), vkeys=[sumdb["vkey"]], expect="bad-signature")
    checkpoints[2].update(vkeys=[other], expect="no-trusted-signature")
    checkpoints[3].update(vkeys=[go["vkey"]], expect="malformed-checkpoint")
    checkpoints[4].update(note=go["signed_note"].replace("problem", "Problem", 1), vkeys=[go["vkey"]])
    checkpoints[4]["expect"] = "bad-signature"
    checkpoints[5].update(vkeys=[cosig["logVkey"]], witnessVkeys=[cosig["witnessVkey"]], expect="ok")
    body, _, lines = cosig["cosignedNote"].rpartition("\n\n")
    log_line, witness_line, _ = lines.split("\n")
    forged = f"{body}\n\n{witness_line}\n{log_line}\n"
    checkpoints[6].update(note=_flip_signature(forged), vkeys=[cosig["logVkey"]], witnessVkeys=[cosig["witnessVkey"]])
    checkpoints[6]["expect"] = "bad-signature"
    keys = [
        {
            "name": "Go example verifier key",
            "source": go_src,
            "vkey": go["vkey"],
            "expect": "ok",
            "keyHash": "c74f20a3",
        },
        {"name": "witness verifier key (cosignature/v1)", "source": cosig_src, "vkey": cosig["witnessVkey"]},
        *[
            {"name": f"bad key: {label}", "source": go_src, "vkey": vkey, "expect": "malformed-key"}
            for label, vkey in go["bad_vkeys"].items()
        ],
        {"name": "bad key: wrong key hash", "source": f"tampered {go_src}", "vkey": go["vkey"].replace("c74f", "c75f")},
    ]
    keys[1].update(expect="ok", keyHash=cosig["witnessVkey"].split("+")[1])
    keys[-1]["expect"] = "malformed-key"
    return checkpoints, keys


def _generated() -> tuple[list[Vector], list[Vector], list[Vector], list[Vector]]:
    source = "generated by proofs/ over real ledger envelopes (tests/support/signed_log.py)"
    roots = {
        size: parse_body(open_note(note, [parse_vkey(VKEY)])[0]).root_hash.hex() for size, note in TREE.notes.items()
    }
    inclusion: list[Vector] = []
    consistency: list[Vector] = []
    for size in TREE.notes:
        for index in range(size):
            base = {
                "name": f"envelope log: inclusion of {index} in {size}",
                "source": source,
                "leafHash": leaf_hash(TREE.entries[index]).hex(),
                "leafIndex": index,
                "treeSize": size,
                "path": [h.hex() for h in inclusion_proof(index, size, TREE.fetch)],
                "root": roots[size],
                "expect": "ok",
            }
            inclusion += [base, *(_tampered_inclusion(base, source) if index == size // 2 else [])]
        for old in range(1, size + 1):
            base = {
                "name": f"envelope log: consistency {old} -> {size}",
                "source": source,
                "fromSize": old,
                "toSize": size,
                "oldRoot": roots[old],
                "newRoot": roots[size],
                "path": [h.hex() for h in consistency_proof(old, size, TREE.fetch)],
                "expect": "ok",
            }
            consistency += [base, *(_tampered_consistency(base, source) if old in (1, 3) and size == 5 else [])]
    checkpoints: list[Vector] = [
        {"name": "envelope log checkpoint", "source": source, "note": TREE.notes[5], "vkeys": [VKEY], "expect": "ok"},
        {"name": "envelope log checkpoint, bad signature", "source": f"tampered {source}"},
        {"name": "envelope log checkpoint, changed root", "source": f"tampered {source}"},
    ]
    checkpoints[1].update(note=_flip_signature(TREE.notes[5]), vkeys=[VKEY], expect="bad-signature")
    text, _, sigs = TREE.notes[5].rpartition("\n\n")
    origin, size_line, _root = text.split("\n")
    forged_root = base64.b64encode(bytes.fromhex(_flip(roots[5]))).decode()
    checkpoints[2].update(note=f"{origin}\n{size_line}\n{forged_root}\n\n{sigs}", vkeys=[VKEY], expect="bad-signature")
    return inclusion, consistency, checkpoints, _documents(source)


def _documents(source: str) -> list[Vector]:
    inclusion = json.loads(TREE.inclusion(2))
    entry = base64.b64encode(TREE.entries[2]).decode()
    proof = {**inclusion, "format": "proveniq-ledger/inclusion-proof/v1", "entry": entry, "checkpoint": TREE.notes[5]}
    path = [h.hex() for h in consistency_proof(2, 5, TREE.fetch)]
    consistency = {
        "format": "proveniq-ledger/consistency-proof/v1",
        "fromSize": 2,
        "toSize": 5,
        "consistencyPath": path,
        "fromCheckpoint": TREE.notes[2],
        "toCheckpoint": TREE.notes[5],
    }
    bundle = json.loads(TREE.bundle())
    history = json.loads(TREE.bundle(HISTORY_FORMAT))
    other = "Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH"
    changed_entry = base64.b64encode(TREE.entries[2].replace(b"12.50", b"99.50")).decode()
    bad_bundle = {**bundle, "entries": [dict(e) for e in bundle["entries"]]}
    bad_bundle["entries"][1]["entry"] = changed_entry
    docs: list[tuple[str, Any, list[str], str]] = [
        ("inclusion proof document", proof, [VKEY], "ok"),
        ("inclusion proof document, changed entry", {**proof, "entry": changed_entry}, [VKEY], "reject"),
        (
            "inclusion proof document, changed leaf hash",
            {**proof, "leafHash": _flip(proof["leafHash"])},
            [VKEY],
            "reject",
        ),
        ("inclusion proof document, wrong key", proof, [other], "reject"),
        ("inclusion proof document, no key", proof, [], "reject"),
        ("inclusion proof, bad signature", {**proof, "checkpoint": _flip_signature(TREE.notes[5])}, [VKEY], "reject"),
        ("claim response (whole body)", {"claimId": "c-1", "proof": proof}, [VKEY], "ok"),
        ("consistency proof document", consistency, [VKEY], "ok"),
        (
            "consistency proof, changed path",
            {**consistency, "consistencyPath": [_flip(path[0]), *path[1:]]},
            [VKEY],
            "reject",
        ),
        ("consistency proof, missing checkpoint", {**consistency, "toCheckpoint": None}, [VKEY], "reject"),
        ("audit bundle", bundle, [VKEY], "ok"),
        ("audit bundle, unpinned (own vkey only)", bundle, [], "ok"),
        ("audit bundle, wrong pinned key", bundle, [other], "reject"),
        ("audit bundle, changed entry", bad_bundle, [VKEY], "reject"),
        ("audit bundle, wrong treeSize", {**bundle, "treeSize": 4}, [VKEY], "reject"),
        ("history proof", history, [VKEY], "ok"),
        ("not a proof document", {"format": "something/else"}, [VKEY], "reject"),
    ]
    return [
        {
            "name": name,
            "source": source if "," not in name else f"tampered {source}",
            "document": doc,
            "vkeys": keys,
            "expect": expect,
        }
        for name, doc, keys, expect in docs
    ]


def build() -> dict[str, Any]:
    """Every vector, independent ones first."""
    leaves, inclusion, consistency = _independent_merkle()
    checkpoints, keys = _independent_notes()
    gen_inclusion, gen_consistency, gen_checkpoints, documents = _generated()
    return {
        "_about": "Auditor console vectors; see tests/support/auditor_vectors.py. expect: ok or a failure category.",
        "leaves": leaves,
        "inclusion": inclusion + gen_inclusion,
        "consistency": consistency + gen_consistency,
        "checkpoints": checkpoints + gen_checkpoints,
        "vkeys": keys,
        "documents": documents,
        "signer": {"name": SIGNER.name, "vkey": VKEY},
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def _category(action: Callable[[], object]) -> str:
    try:
        action()
    except ProofError as error:
        for kind, code in CATEGORIES:
            if isinstance(error, kind):
                return code
        raise
    return "ok"


def python_outcome(kind: str, vector: Vector) -> str:
    """What the Python verifier (``proofs``) says of ``vector``: ``"ok"`` or the failure category."""
    if kind == "leaves":
        same = leaf_hash(bytes.fromhex(vector["entry"])).hex() == vector["leafHash"]
        return "ok" if same else "root-mismatch"
    if kind == "inclusion":
        path = [bytes.fromhex(h) for h in vector["path"]]
        return _category(
            lambda: verify_inclusion(
                bytes.fromhex(vector["leafHash"]),
                vector["leafIndex"],
                vector["treeSize"],
                path,
                bytes.fromhex(vector["root"]),
            )
        )
    if kind == "consistency":
        path = [bytes.fromhex(h) for h in vector["path"]]
        return _category(
            lambda: verify_consistency(
                vector["fromSize"],
                vector["toSize"],
                bytes.fromhex(vector["oldRoot"]),
                bytes.fromhex(vector["newRoot"]),
                path,
            )
        )
    if kind == "checkpoints":
        return _category(lambda: _open_checkpoint(vector))
    if kind == "vkeys":
        return _category(lambda: _parse_any_vkey(vector["vkey"]))
    if kind == "documents":
        try:
            verify_document(vector["document"], vector["vkeys"])
        except (ProofError, BundleInvalid, MalformedProofJson):
            return "reject"
        return "ok"
    raise ValueError(f"unknown vector kind {kind}")


def _open_checkpoint(vector: Vector) -> None:
    text, _ = open_note(vector["note"], [parse_vkey(k) for k in vector["vkeys"]])
    parse_body(text)
    verify_cosignatures(vector["note"], [parse_cosigner_vkey(k) for k in vector.get("witnessVkeys", [])])


def _parse_any_vkey(vkey: str) -> None:
    parts = vkey.split("+", 2)
    data = base64.b64decode(parts[2] + "==")[:1] if len(parts) == 3 else b""
    if data == b"\x04":
        parse_cosigner_vkey(vkey)
    else:
        parse_vkey(vkey)


if __name__ == "__main__":
    VECTORS.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {VECTORS}\n")
