"""The SDK stands alone: its wheel, installed in a fresh virtual environment with only its declared
dependencies, signs requests, verifies proofs and webhooks made by the server's code, and cannot import
the server (ledger_core, adapters, api, Litestar).

Offline: the wheel is built from ``api/client/pyproject.toml`` with the hatchling of this environment,
installed by pip into a new venv, and the venv reaches exactly the distributions the wheel's
``Requires-Dist`` names (and theirs), linked from this environment, never the rest of it.
"""

from __future__ import annotations

import base64
import email
import json
import subprocess
import sys
import time
import venv
import zipfile
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import msgspec
import pytest
from packaging.requirements import Requirement
from support.http_server import live_server

from api.client.schemas.common import Proof
from api.client.signing import verify_signature
from ledger_core.webhooks.signatures import derive_endpoint_secret
from proofs import Checkpoint, CompactRange, generate_signer, inclusion_proof, leaf_hash, signed_checkpoint
from proofs.webhooks import secret_key, signed_headers

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "api" / "client"
API_SECRET = "nW0x9Yk3JtQb5vR2LhS8fGdC1aZpUeXm7oIyTq4sK6E"

CHILD = r"""
import importlib.util, json, sys
import httpx
fixture = json.load(open(sys.argv[1]))
absent = [name for name in ("ledger_core", "adapters", "api", "litestar", "orjson", "eventsourcing", "psycopg")
          if importlib.util.find_spec(name) is not None]

import msgspec
from proofs import ProofError
from proveniq_ledger_client.ledger_client import LedgerApiError, LedgerClient
from proveniq_ledger_client.webhooks import WebhookVerificationError, verify_webhook
from proveniq_ledger_client.schemas.common import Proof

seen = []
def handler(request):
    if request.url.path == "/oauth/token":
        return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 3600, "scope": ""})
    seen.append(request)
    envelope = {"code": "CLAIM_NOT_FOUND", "message": "claim not found", "details": {}, "requestId": "req-42",
                "documentation": ""}
    return httpx.Response(404, json={"error": envelope})

http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://ledger.test")
client = LedgerClient("http://ledger.test", client_id="p", client_secret="cs", api_key="pk",
                      api_secret=fixture["api_secret"], http=http)
try:
    client.audit_logs(limit=5, type="claim.submitted")
    error_text = None
except LedgerApiError as error:
    error_text = str(error)
request = seen[0]
signed = {"method": request.method, "path": request.url.raw_path.decode().partition("?")[0],
          "query": request.url.query.decode(), "headers": dict(request.headers)}

proof = msgspec.json.decode(fixture["proof"].encode(), type=Proof)
LedgerClient.verify_proof_offline(proof, fixture["vkey"])
tampered = msgspec.structs.replace(proof, entry=fixture["other_entry"])
try:
    LedgerClient.verify_proof_offline(tampered, fixture["vkey"])
    tamper_refused = False
except ProofError:
    tamper_refused = True

body = fixture["webhook_body"].encode()
payload = verify_webhook(fixture["webhook_headers"], body, fixture["webhook_secret"], now=fixture["now"])
try:
    verify_webhook(fixture["webhook_headers"], body + b" ", fixture["webhook_secret"], now=fixture["now"])
    webhook_refused = False
except WebhookVerificationError:
    webhook_refused = True

print(json.dumps({"absent": absent, "error": error_text, "signed": signed, "tamper_refused": tamper_refused,
                  "payload": payload, "webhook_refused": webhook_refused}))
"""


def requirement_closure(requirements: list[str]) -> set[str]:
    """The distributions (of this environment) that ``requirements`` need, transitively, without extras."""
    found: set[str] = set()
    pending = list(requirements)
    while pending:
        requirement = Requirement(pending.pop())
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = requirement.name.lower().replace("_", "-")
        if name not in found:
            found.add(name)
            pending.extend(distribution(name).requires or [])
    return found


def link_distributions(names: set[str], target: Path) -> None:
    """Make ``target`` a site directory holding exactly these installed distributions (symlinks)."""
    target.mkdir()
    for name in names:
        installed = distribution(name)
        for top in sorted({file.parts[0] for file in installed.files or [] if file.parts[0] != ".."}):
            link = target / top
            if not link.exists():
                link.symlink_to(Path(str(installed.locate_file(top))))


def proof_fixture() -> tuple[str, str, str]:
    """A Proof of leaf 5 in a 7-leaf tree under a signed checkpoint (the server's proofs code), its vkey,
    and another entry's bytes (base64)."""
    entries = [f"entry-{index}".encode() for index in range(7)]
    tree, nodes = CompactRange(), {}
    for entry in entries:
        nodes.update({node.id: node.hash for node in tree.append(leaf_hash(entry))})
    path = inclusion_proof(5, 7, lambda ids: {i: nodes[i] for i in ids if i in nodes})
    signer = generate_signer("ledger.test/log")
    note = signed_checkpoint(Checkpoint("ledger.test/log", 7, tree.root()), signer)
    proof = Proof(
        ledger_event_id="evt_5",
        hash=leaf_hash(entries[5]).hex(),
        leaf_hash=leaf_hash(entries[5]).hex(),
        timestamp="2026-01-15T10:30:00Z",
        merkle_root=tree.root().hex(),
        leaf_index=5,
        tree_size=7,
        inclusion_path=[node.hex() for node in path],
        checkpoint=note,
        entry=base64.b64encode(entries[5]).decode(),
    )
    return msgspec.json.encode(proof).decode(), signer.verifier().vkey, base64.b64encode(entries[4]).decode()


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv with the SDK's wheel installed and its declared dependencies reachable."""
    work = tmp_path_factory.mktemp("sdk")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [*pip, "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-w", str(work / "dist"), str(SDK)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (work / "dist").glob("proveniq_ledger_client-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if name.endswith(".py")}
        metadata_name = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        requires = email.message_from_bytes(archive.read(metadata_name)).get_all("Requires-Dist") or []
    sources = {f"proveniq_ledger_client/{p.relative_to(SDK).as_posix()}" for p in SDK.rglob("*.py")}
    assert sources <= shipped, f"the wheel misses SDK modules: {sorted(sources - shipped)}"
    assert {name.split("/")[0] for name in shipped} == {"proveniq_ledger_client", "proofs"}
    assert sorted(Requirement(r).name for r in requires) == ["cryptography", "httpx", "msgspec"]

    environment = work / "venv"
    venv.EnvBuilder(with_pip=False).create(environment)
    python = environment / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], check=True)
    link_distributions(requirement_closure(requires), work / "deps")
    (site,) = (environment / "lib").glob("python3*/site-packages")
    (site / "sdk-dependencies.pth").write_text(f"{work / 'deps'}\n")
    return python


def test_the_installed_sdk_works_without_the_server(sdk_python: Path, tmp_path: Path) -> None:
    """Fresh venv, wheel + httpx/cryptography/msgspec only: signs, checks proofs and webhooks, no server code."""
    proof, vkey, other_entry = proof_fixture()
    webhook_secret = derive_endpoint_secret(b"k" * 32, "whs_1")
    now = int(time.time())
    body = b'{"id":"msg_1","type":"claim.verified","data":{"claimId":"c1"}}'
    headers = signed_headers([secret_key(webhook_secret)], "msg_1", "claim.verified", now, body)
    fixture = {
        "api_secret": API_SECRET,
        "proof": proof,
        "vkey": vkey,
        "other_entry": other_entry,
        "webhook_secret": webhook_secret,
        "webhook_headers": headers,
        "webhook_body": body.decode(),
        "now": now,
    }
    (tmp_path / "fixture.json").write_text(json.dumps(fixture))
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    done = subprocess.run(
        [str(sdk_python), "-I", str(script), str(tmp_path / "fixture.json")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)

    assert result["absent"] == [], f"server packages importable beside the SDK: {result['absent']}"
    assert result["error"] == "404 CLAIM_NOT_FOUND: claim not found (request_id req-42)"
    signed = result["signed"]
    sent = signed["headers"]
    assert verify_signature(
        API_SECRET,
        sent["x-signature"],
        signed["method"],
        signed["path"],
        signed["query"],
        sent["x-timestamp"],
        sent["x-request-id"],
        b"",
    ), "the server's check refuses the standalone SDK's signature"
    assert result["tamper_refused"] is True
    assert result["payload"] == json.loads(body)
    assert result["webhook_refused"] is True


QUICKSTART = """
import asyncio, hashlib, json, sys
from pathlib import Path
from proveniq_ledger_client.aio import AsyncLedgerClient
from proveniq_ledger_client.ledger_client import LedgerApiError, LedgerClient
from proofs.client_state import StateMismatch

secrets, url, state = json.load(open(sys.argv[1])), sys.argv[2], Path(sys.argv[3])
options = dict(client_id=secrets["clientId"], client_secret=secrets["clientSecret"], api_key=secrets["apiKey"],
               api_secret=secrets["apiSecret"])
photo = b"photo of the dented bumper"

def claim(reference, digest):
    return {"partnerClaimId": reference, "claimType": "auto", "claimAmount": "1250.00", "currency": "USD",
            "submittedAt": "2026-01-15T14:30:00Z", "verificationLevel": "standard",
            "documents": [{"type": "photo", "hash": digest}]}

with LedgerClient(url, **options) as ledger:
    vkey = ledger.public_key()
with LedgerClient(url, vkey=vkey, state=state, **options) as ledger:
    document = ledger.upload_document(photo, document_type="photo", media_type="image/jpeg")
    result = ledger.submit_claim(claim("CLM-Q1", document.hash))
    report = LedgerClient.verify_proof_offline(result.proof, vkey)
    try:
        ledger.get_claim("00000000-0000-0000-0000-000000000000")
        error = None
    except LedgerApiError as missing:
        error = str(missing)

async def later():
    async with AsyncLedgerClient(url, vkey=vkey, state=state, **options) as ledger:
        second = await ledger.submit_claim(claim("CLM-Q2", document.hash))
        entries = [entry async for entry in ledger.iter_audit_logs(type="claim.submitted")]
        return second, entries

second, entries = asyncio.run(later())
remembered = json.loads(state.read_text())["logs"]
print(json.dumps({"first": result.status, "second": second.status, "treeSize": report.tree_size,
                  "remembered": [log["size"] for log in remembered.values()], "newest": second.proof.tree_size,
                  "entries": len(entries), "error": error}))
"""


def test_the_partner_quickstart_runs_from_the_installed_sdk(sdk_python: Path, tmp_path: Path) -> None:
    """From the fresh venv, against a live server: a sandbox partner's quickstart (upload, submit, verify the
    proof offline) with the sync client, then the async client; the checkpoint state follows the log and
    error texts carry the request id."""
    data_dir = tmp_path / "data"
    with live_server(data_dir, args=["--sandbox"]) as server:
        (tmp_path / "secrets.json").write_text(server.banner)
        (tmp_path / "quickstart.py").write_text(QUICKSTART)
        done = subprocess.run(
            [str(sdk_python), "-I", str(tmp_path / "quickstart.py"), str(tmp_path / "secrets.json"), server.url,
             str(tmp_path / "state.json")],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["first"], result["second"]) == ("verified", "verified")
    assert result["remembered"] == [result["newest"]]  # moved forward, through a consistency proof
    assert result["entries"] == 2
    assert result["error"].startswith("404 ")
    assert "(request_id " in result["error"]
