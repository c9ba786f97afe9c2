"""The auditor console (issue 17 item 5) in a real Chromium against a live server with real claims.

The console fetches the public checkpoint, verifies a real inclusion proof, a consistency proof, a claim's
proof document and a partner's audit bundle (``ledger export``) with its own JavaScript verifier, rejects
tampered ones with a clear message, and warns when the log shows two histories (split view: checkpoints
forged with the server's own signing key). The JavaScript verifier runs every vector of
tests/data/auditor_vectors.json and must agree with the Python verifier on each. axe-core finds no serious
or critical violation; screenshots at 360/768/1280 px go to the artefacts (and a few to docs/images).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from support.auditor_vectors import VECTORS, python_outcome
from support.http_server import LiveServer, claim_body, first_sealed_size, live_server
from support.pages import assert_accessible, assert_no_horizontal_scroll, chromium, require_chromium, screenshots
from support.signed_log import VKEY as OTHER_VKEY

from adapters.files.signing_key import load_signing_key
from api.client.ledger_client import LedgerClient
from proofs import (
    Checkpoint,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    parse_body,
    signed_checkpoint,
)
from proofs.note import NoteSigner, open_note, parse_vkey

require_chromium()

from playwright.sync_api import Browser, ConsoleMessage, Page, Response, expect  # noqa: E402  # after the skip: only with a browser

ROOT = Path(__file__).resolve().parents[2]
DOC_IMAGES = ROOT / "docs" / "images" / "auditor"
KINDS = ("leaves", "inclusion", "consistency", "checkpoints", "vkeys", "documents")


@dataclass
class Ledger:
    """A live server with two real claims, its partner client, its verifier key and its signing key."""

    server: LiveServer
    client: LedgerClient
    partner: str
    vkey: str
    signer: NoteSigner
    first_claim: str
    early_size: int
    """The size of a checkpoint sealed before the claims were submitted."""

    @property
    def url(self) -> str:
        return f"{self.server.url}/auditor"

    def latest(self) -> Checkpoint:
        return parse_body(open_note(self.client.checkpoint(), [parse_vkey(self.vkey)])[0])


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    with live_server(tmp_path_factory.mktemp("auditor") / "data") as server:
        partner = f"p_{uuid.uuid4().hex[:8]}"
        client = server.client(server.create_partner(partner))
        early = first_sealed_size(client)  # a checkpoint before the claims, for the consistency test to prove from
        first = client.submit_claim(claim_body("CLM-AUDIT-1"))
        client.submit_claim(claim_body("CLM-AUDIT-2"))
        signer = load_signing_key(server.data_dir / "checkpoint.key")
        yield Ledger(server, client, partner, client.public_key(), signer, first.claim_id, early)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as opened:
        yield opened


@pytest.fixture
def page_errors() -> list[str]:
    """What the page logged as errors, and the URLs of its failed requests (a test removes those it caused)."""
    return []


@pytest.fixture
def page(browser: Browser, ledger: Ledger, page_errors: list[str]) -> Iterator[Page]:
    """A fresh browser context (empty localStorage) on the console, keys not pinned yet."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors = page_errors
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: errors.append(message.text) if console_error(message) else None)
    opened.on("response", lambda response: errors.append(response.url) if failed(response) else None)
    opened.goto(ledger.url)
    expect(opened.locator("body[data-auditor-ready=true]")).to_have_count(1)
    yield opened
    context.close()
    assert errors == [], f"the page logged errors (a CSP violation, a failed request, a script error): {errors}"


def console_error(message: ConsoleMessage) -> bool:
    """A console error other than Chromium's note of a failed request (those are checked by URL)."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def failed(response: Response) -> bool:
    """A failed request of the page, except the favicon Chromium asks for on its own."""
    return response.status >= 400 and not response.url.endswith("/favicon.ico")


def pin(page: Page, *vkeys: str) -> None:
    page.fill("#vkeys", "\n".join(vkeys))
    page.click("#pin-key")
    expect(page.locator("#pinned")).to_contain_text("Pinned:")


def verify_checkpoint(page: Page, note: str) -> None:
    page.fill("#checkpoint", note)
    page.click("#verify-checkpoint")


def result(page: Page, name: str) -> str:
    box = page.locator(f"#{name}-result")
    expect(box).not_to_be_empty()
    return box.inner_text()


def verify_document(page: Page, document: Any) -> str:
    page.fill("#document", json.dumps(document))
    page.click("#verify-document")
    return result(page, "document")


def forged_note(ledger: Ledger, size: int) -> str:
    """A checkpoint of ``size`` with a made-up root, signed with the server's real key (equivocation)."""
    root = bytes.fromhex(uuid.uuid4().hex * 2)
    return signed_checkpoint(Checkpoint(ledger.signer.name, size, root), ledger.signer)


def flip_signature(note: str) -> str:
    text, _, line = note.rstrip("\n").rpartition("\n\n")
    name_part, _, b64 = line.rpartition(" ")
    blob = bytearray(base64.b64decode(b64))
    blob[20] ^= 1
    return f"{text}\n\n{name_part} {base64.b64encode(bytes(blob)).decode()}\n"


def test_fetches_the_checkpoint_and_verifies_a_real_inclusion_proof(page: Page, ledger: Ledger) -> None:
    pin(page, ledger.vkey)
    page.click("#fetch-checkpoint")
    size = ledger.latest().size
    assert f"at tree size {size}" in result(page, "checkpoint")
    assert "Verified" in result(page, "checkpoint")
    expect(page.locator("#checkpoint-steps li.ok").first).to_contain_text("Ed25519 signature verifies")
    proof = ledger.client.audit_proof(0, size)
    page.fill("#leaf-index", str(proof.leaf_index))
    page.fill("#leaf-hash", proof.leaf_hash)
    page.fill("#inclusion-path", "\n".join(proof.inclusion_path))
    page.click("#verify-inclusion")
    assert result(page, "inclusion").startswith("Verified: leaf 0 is in the tree")
    steps = page.locator("#inclusion-steps li")
    expect(steps).to_have_count(len(proof.inclusion_path) + 2)  # leaf hash, each path step, the root comparison
    expect(steps.last).to_contain_text("computed root vs checkpoint root")
    expect(steps.last).to_contain_text("✓ OK")

    changed_leaf = proof.leaf_hash[:-1] + ("0" if proof.leaf_hash[-1] != "0" else "1")
    page.fill("#leaf-hash", changed_leaf)
    page.click("#verify-inclusion")
    assert result(page, "inclusion").startswith("Rejected: Root mismatch. the path leads to root")
    expect(page.locator("#inclusion-steps li").last).to_contain_text("✗ FAILED")


def test_verifies_a_consistency_proof_fetched_from_the_public_route(page: Page, ledger: Ledger) -> None:
    pin(page, ledger.vkey)
    page.click("#fetch-checkpoint")
    expect(page.locator("#checkpoint-result")).to_contain_text("Verified")
    page.fill("#from-size", str(ledger.early_size))
    page.click("#verify-consistency")
    assert result(page, "consistency").startswith(f"Verified: the tree of {ledger.latest().size} entries extends")
    expect(page.locator("#consistency-steps li.ok").last).to_contain_text("computed new root vs new checkpoint")


def test_verifies_real_proof_documents_and_rejects_tampered_ones(page: Page, ledger: Ledger, tmp_path: Path) -> None:
    pin(page, ledger.vkey)
    claim = msgspec.to_builtins(ledger.client.get_claim_proof(ledger.first_claim))
    assert verify_document(page, claim).startswith("Verified: proveniq-ledger/inclusion-proof/v1: 1 entry")
    proof = claim["proof"]
    changed_root = {**proof, "merkleRoot": "00" * 32}
    assert verify_document(page, changed_root).startswith("Rejected: Root mismatch. merkleRoot")
    changed_leaf = {**proof, "leafHash": "11" * 32, "entry": None}
    assert verify_document(page, changed_leaf).startswith("Rejected: Root mismatch. the path leads to root")
    bad_signature = {**proof, "checkpoint": flip_signature(proof["checkpoint"])}
    assert verify_document(page, bad_signature).startswith("Rejected: Bad signature. the signature by")

    bundle = tmp_path / "bundle.json"
    export = [sys.executable, "-m", "api", "export", "--partner", ledger.partner, "--out", str(bundle)]
    made = subprocess.run(
        [*export, "--data-dir", str(ledger.server.data_dir)], capture_output=True, text=True, cwd=ROOT
    )
    assert made.returncode == 0, made.stderr
    page.set_input_files("#document-file", str(bundle))
    expect(page.locator("#document")).to_have_value(bundle.read_text(encoding="utf-8"))
    page.click("#verify-document")
    entries = len(json.loads(bundle.read_text(encoding="utf-8"))["entries"])
    assert f"audit-bundle/v1: {entries} entries" in result(page, "document")
    assert "against the pinned key" in result(page, "document")
    tampered = json.loads(bundle.read_text(encoding="utf-8"))
    entry = bytearray(base64.b64decode(tampered["entries"][1]["entry"]))
    entry[-2] ^= 1  # one bit of the second entry's bytes
    tampered["entries"][1]["entry"] = base64.b64encode(bytes(entry)).decode()
    assert verify_document(page, tampered).startswith("Rejected: Entry does not match its leaf hash. entry 1")

    pin(page, OTHER_VKEY)  # the wrong key: the bundle's own vkey is not the pinned one
    assert verify_document(page, json.loads(bundle.read_text())).startswith("Rejected: Not signed by the pinned key")


def test_rejects_a_checkpoint_with_a_changed_root_or_under_the_wrong_key(page: Page, ledger: Ledger) -> None:
    note = ledger.client.checkpoint()
    body, _, signatures = note.partition("\n\n")
    origin, size, _ = body.split("\n")
    other_root = base64.b64encode(bytes(32)).decode()
    changed = f"{origin}\n{size}\n{other_root}\n\n{signatures}"
    pin(page, ledger.vkey)
    verify_checkpoint(page, changed)
    assert result(page, "checkpoint").startswith("Rejected: Bad signature. the signature by")
    pin(page, OTHER_VKEY)
    verify_checkpoint(page, note)
    assert result(page, "checkpoint").startswith("Rejected: Not signed by the pinned key")


def test_shows_and_checks_cosignatures(page: Page) -> None:
    """A witness cosignature (C2SP tlog-cosignature known answer): verified when its key is pinned, else shown."""
    known = json.loads((ROOT / "tests" / "data" / "cosignature_vectors.json").read_text(encoding="utf-8"))
    pin(page, known["logVkey"])
    verify_checkpoint(page, known["cosignedNote"])
    assert result(page, "checkpoint").startswith("Verified: checkpoint of example.com/behind-the-sofa at tree size")
    expect(page.locator("#checkpoint-steps")).to_contain_text("not pinned: shown, not checked")
    pin(page, known["logVkey"], known["witnessVkey"])
    expect(page.locator("#pinned")).to_contain_text("(witness)")
    verify_checkpoint(page, known["cosignedNote"])
    cosigned = page.locator("#checkpoint-steps li.ok", has_text="witness.example.com/w1")
    expect(cosigned).to_contain_text(f"cosigned at {known['timestamp']}, verified")


def test_split_view_warnings(page: Page, ledger: Ledger, page_errors: list[str]) -> None:
    """Same size, other root: an alarm; a newer checkpoint inconsistent with the remembered one: an alarm."""
    pin(page, ledger.vkey)
    page.click("#fetch-checkpoint")
    expect(page.locator("#checkpoint-result")).to_contain_text("Verified")
    remembered = ledger.latest().size
    expect(page.locator("#remembered")).to_contain_text(f"tree size {remembered}")
    alarm = page.locator("#split-view")
    expect(alarm).to_be_hidden()

    verify_checkpoint(page, forged_note(ledger, remembered))
    expect(alarm).to_be_visible()
    expect(alarm).to_contain_text(f"Two checkpoints of tree size {remembered} with different roots")
    expect(page.locator("#checkpoint-result")).to_contain_text("WARNING: it contradicts the checkpoint remembered")
    page.click("#forget")
    expect(alarm).to_be_hidden()

    page.click("#fetch-checkpoint")  # remembered again, then the log grows by a real claim
    expect(page.locator("#remembered")).to_contain_text(f"tree size {remembered}")
    ledger.client.submit_claim(claim_body(f"CLM-GROW-{uuid.uuid4().hex[:6]}"))
    grown = ledger.latest().size
    verify_checkpoint(page, forged_note(ledger, grown))
    expect(alarm).to_be_visible()
    expect(alarm).to_contain_text(f"size {grown} is not consistent with the remembered checkpoint of size {remembered}")
    expect(page.locator("#remembered")).to_contain_text(f"tree size {remembered}")  # the forgery is not remembered
    verify_checkpoint(page, forged_note(ledger, grown + 1000))  # a size the server cannot prove: said, not remembered
    expect(page.locator("#checkpoint-result")).to_contain_text("could not be checked")
    page_errors.remove(f"{ledger.server.url}/auditor/log/consistency?from={remembered}&to={grown + 1000}")
    expect(page.locator("#remembered")).to_contain_text(f"tree size {remembered}")

    page.click("#forget")
    page.click("#fetch-checkpoint")
    expect(page.locator("#checkpoint-result")).to_contain_text(f"tree size {grown}")
    page.fill("#checkpoint", ledger.client.checkpoint(remembered))  # an older, honest one: consistent, no alarm
    page.click("#verify-checkpoint")
    expect(page.locator("#checkpoint-result")).to_contain_text(f"tree size {remembered}")
    expect(page.locator("#checkpoint-steps")).to_contain_text(f"consistency {remembered} → {grown}")
    expect(alarm).to_be_hidden()


RUN_VECTORS = (ROOT / "tests" / "support" / "auditor_vectors_runner.js").read_text(encoding="utf-8")


def test_the_javascript_verifier_agrees_with_python_on_every_vector(page: Page) -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    javascript: dict[str, list[str]] = page.evaluate(RUN_VECTORS, vectors)
    disagreements = []
    count = 0
    for kind in KINDS:
        assert len(javascript[kind]) == len(vectors[kind])
        for vector, outcome in zip(vectors[kind], javascript[kind], strict=True):
            count += 1
            python = python_outcome(kind, vector)
            if not outcome == python == vector["expect"]:
                disagreements.append(
                    f"{kind} {vector['name']}: js {outcome}, python {python}, expect {vector['expect']}"
                )
    assert disagreements == []
    assert count == sum(len(vectors[kind]) for kind in KINDS) > 150
    assert any(v["expect"] != "ok" for v in vectors["inclusion"])  # tampered cases are among them


SWEEP = """async (cases) => {
  const v = await import("/static/pages/auditor/verify.js");
  const h = (x) => v.fromHex(x);
  const out = [];
  for (const x of cases) {
    try {
      const path = x.path.map(h);
      if (x.kind === "inclusion") await v.verifyInclusion(h(x.leafHash), x.leafIndex, x.treeSize, path, h(x.root));
      else await v.verifyConsistency(x.fromSize, x.toSize, h(x.oldRoot), h(x.newRoot), path);
      out.push("ok");
    } catch (e) { out.push(e instanceof v.VerifyError ? e.code : `exception: ${e}`); }
  }
  return out;
}"""


def _sweep_cases(leaves: int) -> list[dict[str, Any]]:
    """Every inclusion and consistency proof of the trees of 1..``leaves`` leaves, and a tampered copy of each."""
    nodes: dict[tuple[int, int], bytes] = {}
    roots: dict[int, str] = {}
    compact = CompactRange()
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(leaves)]
    for size, leaf in enumerate(hashes, start=1):
        nodes.update({(n.level, n.index): n.hash for n in compact.append(leaf)})
        roots[size] = compact.root().hex()

    def fetch(ids: Any) -> dict[tuple[int, int], bytes]:
        return {i: nodes[i] for i in ids}

    cases: list[dict[str, Any]] = []
    for size in range(1, leaves + 1):
        for index in range(size):
            path = [p.hex() for p in inclusion_proof(index, size, fetch)]
            case = {"kind": "inclusion", "leafHash": hashes[index].hex(), "leafIndex": index, "treeSize": size}
            cases.append({**case, "path": path, "root": roots[size]})
            cases.append({**case, "path": path, "root": roots[size + 1] if size < leaves else roots[1]})
        for old in range(1, size + 1):
            path = [p.hex() for p in consistency_proof(old, size, fetch)]
            case = {"kind": "consistency", "fromSize": old, "toSize": size, "oldRoot": roots[old]}
            cases.append({**case, "newRoot": roots[size], "path": path})
            cases.append({**case, "newRoot": roots[size], "path": path[1:]})
    return cases


def test_the_javascript_verifier_agrees_with_python_on_every_proof_of_small_trees(page: Page) -> None:
    """All inclusion and consistency proofs of trees up to 40 leaves, valid and tampered (wrong root, short path)."""
    cases = _sweep_cases(40)
    javascript: list[str] = page.evaluate(SWEEP, cases)
    python = [python_outcome(case["kind"], case) for case in cases]
    assert javascript == python
    assert {"ok", "root-mismatch", "malformed-proof"} <= set(python)
    assert len(cases) > 3000


def test_accessible_and_responsive_with_results_shown(browser: Browser, ledger: Ledger) -> None:
    """axe-core is injected as an inline script, which the page's CSP forbids: this context bypasses it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    try:
        check_accessible_and_responsive(context.new_page(), ledger)
    finally:
        context.close()


def check_accessible_and_responsive(page: Page, ledger: Ledger) -> None:
    page.goto(ledger.url)
    pin(page, ledger.vkey)
    page.click("#fetch-checkpoint")
    expect(page.locator("#checkpoint-result")).to_contain_text("Verified")
    proof = msgspec.to_builtins(ledger.client.get_claim_proof(ledger.first_claim))
    assert verify_document(page, proof).startswith("Verified")
    assert_accessible(page)
    shots = screenshots(page, "auditor-console")
    verify_checkpoint(page, forged_note(ledger, ledger.latest().size))
    expect(page.locator("#split-view")).to_be_visible()
    assert_accessible(page)
    shots += screenshots(page, "auditor-split-view")
    for width in (360, 768, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert_no_horizontal_scroll(page)
    page.reload()
    expect(page.locator("body[data-auditor-ready=true]")).to_have_count(1)
    page.keyboard.press("Tab")  # the skip link comes first in the focus order
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    expect(page.locator("#vkeys")).to_have_value(ledger.vkey)  # the pinned key is remembered (localStorage)
    expect(page.locator("#pinned")).to_contain_text("Pinned:")
    for shot in shots:  # the README's screenshots: written when missing, refreshed on request
        target = DOC_IMAGES / shot.name
        wanted = shot.stem in ("auditor-console-desktop", "auditor-split-view-phone")
        if wanted and (not target.exists() or os.environ.get("LEDGER_UPDATE_DOC_IMAGES") == "1"):
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, target)
