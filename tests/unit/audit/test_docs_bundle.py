"""docs/proofs.md "Audit bundles" shows the same JSON keys that write_bundle writes."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from proofs.bundle import BUNDLE_FORMAT, BundleEntry, write_bundle

DOC = (Path(__file__).resolve().parents[3] / "docs" / "proofs.md").read_text(encoding="utf-8")


def test_documented_bundle_keys_match_the_writer() -> None:
    """The example's top-level and entry keys, and its format string, are the writer's."""
    section = DOC.split("## Audit bundles", 1)[1]
    match = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert match
    documented = json.loads(match.group(1))
    out = io.StringIO()
    write_bundle(out, format=BUNDLE_FORMAT, checkpoint="c", vkey="v", tree_size=1,
                 entries=[BundleEntry(0, b"e", ())], subject={"partnerId": "acme"})  # fmt: skip
    written = json.loads(out.getvalue())
    assert documented["format"] == written["format"]
    assert set(documented) == set(written)
    assert set(documented["entries"][0]) == set(written["entries"][0])
