"""Reading a claims results file and checking every proof in it the way a partner would (docs/batch.md,
"Verifying a results file offline"): the header's checkpoint signature with the log's verifier key, then each
claim's inclusion proof with nothing but the 40-line hashlib verifier of docs/proofs.md."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proofs import verify_checkpoint

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "proofs.md").read_text(encoding="utf-8")


def docs_verifier() -> dict[str, Callable[..., Any]]:
    """The verifier snippet of docs/proofs.md, executed as written."""
    match = re.search(r"<!-- verify-snippet:start -->\s*```python\n(.*?)```", DOCS, re.DOTALL)
    assert match is not None
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), "docs/proofs.md", "exec"), namespace)
    return namespace


def parse_results(text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header, *lines = [json.loads(line) for line in text.splitlines()]
    return header, lines


def read_results(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return parse_results(path.read_text(encoding="utf-8"))


def check_every_proof(header: dict[str, Any], lines: list[dict[str, Any]], vkey: str) -> int:
    """Verify the header's signed checkpoint, then each claim's proof with the docs' hashlib verifier; how many."""
    body = verify_checkpoint(header["checkpoint"], vkey)
    verifier = docs_verifier()
    checked = 0
    for line in lines:
        if "proof" not in line:
            continue
        proof = line["proof"]
        entry = base64.b64decode(proof["entry"])
        assert verifier["leaf_hash"](entry).hex() == proof["leafHash"]
        assert line["claimId"] in entry.decode()  # the entry is the claim's
        path = [bytes.fromhex(step) for step in proof["inclusionPath"]]
        assert verifier["verify_inclusion"](
            bytes.fromhex(proof["leafHash"]), line["leafIndex"], header["treeSize"], path, body.root_hash
        )
        checked += 1
    return checked
