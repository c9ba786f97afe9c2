"""White-label themes through HTTP and the CLI (issue 17 item 3) on a real server: upload a logo and a font,
set, show and clear a theme by the operations API and by ``ledger partners theme``; bad colour, oversize
logo, unsafe SVG and bad font answer the error envelope with evidence; every change is a log entry; the
stylesheet and files are served with their types, ``nosniff`` and digest-keyed immutable caching."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.http_server import LiveServer, ledger_command, live_server
from support.theme_files import SAFE_SVG, png, woff2

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from api.client.ledger_client import LedgerClient


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The default body limit (1 MiB; the test default is 64 KiB): a logo over 200 KB reaches the theme's own check."""
    with live_server(
        tmp_path_factory.mktemp("theme") / "data", extra_env={"LEDGER_MAX_BODY_BYTES": "1048576"}
    ) as running:
        yield running


@pytest.fixture(scope="module")
def operator(server: LiveServer) -> LedgerClient:
    return server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"), max_retries=0)


def new_partner(server: LiveServer) -> str:
    partner_id = f"p_{uuid.uuid4().hex[:10]}"
    server.create_partner(partner_id)
    return partner_id


def call(
    operator: LedgerClient, method: str, path: str, body: bytes = b"", content_type: str | None = None
) -> httpx.Response:
    """A signed operations request (JSON body unless ``content_type`` says otherwise)."""
    headers = operator.signed_headers(method, path, "", body)
    if body:
        headers["Content-Type"] = content_type or "application/json"
    return operator.http.request(method, path, content=body, headers=headers)


def put_theme(operator: LedgerClient, partner_id: str, **fields: Any) -> httpx.Response:
    return call(operator, "PUT", f"/api/v1/operations/partners/{partner_id}/theme", json.dumps(fields).encode())


def upload(operator: LedgerClient, partner_id: str, kind: str, data: bytes, content_type: str) -> httpx.Response:
    return call(operator, "POST", f"/api/v1/operations/partners/{partner_id}/theme/{kind}", data, content_type)


def theme_entries(server: LiveServer, partner_id: str) -> list[tuple[str, dict[str, Any]]]:
    with open_ledger(StorageConfig(server.data_dir, server.database_url)) as ledger:
        return [
            (entry.type, dict(entry.payload))
            for entry in ledger.entries()
            if entry.type.startswith("theme.") and entry.partner_id == partner_id
        ]


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def test_set_show_serve_and_clear_through_the_operations_api(server: LiveServer, operator: LedgerClient) -> None:
    partner_id = new_partner(server)
    logo = upload(operator, partner_id, "logo", png(240, 80), "image/png")
    assert logo.status_code == 201, logo.text
    assert logo.json() | {"sha256": None} == {
        "partnerId": partner_id,
        "kind": "logo",
        "sha256": None,
        "mediaType": "image/png",
        "size": len(png(240, 80)),
        "width": 240,
        "height": 80,
    }
    digest = logo.json()["sha256"]
    assert digest == hashlib.sha256(png(240, 80)).hexdigest()
    font = upload(operator, partner_id, "font", woff2(4096), "font/woff2")
    assert font.status_code == 201, font.text

    answer = put_theme(
        operator,
        partner_id,
        primary="#003DA5",
        displayName="ACME Mutual",
        font="humanist",
        logoSha256=digest,
        fontSha256=font.json()["sha256"],
    )
    assert answer.status_code == 200, answer.text
    theme = answer.json()["theme"]
    assert (theme["primary"], theme["onPrimary"], theme["displayName"]) == ("#003da5", "#ffffff", "ACME Mutual")
    assert theme["logoUrl"] == f"/portal/{partner_id}/theme-files/{digest}"
    assert answer.json()["positions"]
    shown = call(operator, "GET", f"/api/v1/operations/partners/{partner_id}/theme")
    assert shown.json()["theme"] == theme
    [(kind, payload)] = theme_entries(server, partner_id)
    assert (kind, payload["logo_sha256"], payload["primary"]) == ("theme.set", digest, "#003da5")

    css = httpx.get(server.url + theme["stylesheet"])
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in css.headers["cache-control"]
    assert "--pq-primary: #003da5;" in css.text
    assert "--pq-on-primary: #ffffff;" in css.text
    assert f'url("/portal/{partner_id}/theme-files/{font.json()["sha256"]}") format("woff2")' in css.text
    unversioned = httpx.get(f"{server.url}/portal/{partner_id}/theme.css")
    assert (unversioned.text, unversioned.headers["cache-control"]) == (css.text, "no-cache")

    image = httpx.get(server.url + theme["logoUrl"])
    assert (image.status_code, image.headers["content-type"], image.content) == (200, "image/png", png(240, 80))
    assert image.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in image.headers["cache-control"]
    font_file = httpx.get(f"{server.url}/portal/{partner_id}/theme-files/{font.json()['sha256']}")
    assert font_file.headers["content-type"] == "font/woff2"

    cleared = call(operator, "DELETE", f"/api/v1/operations/partners/{partner_id}/theme")
    assert (cleared.status_code, cleared.json()["theme"]) == (200, None)
    assert [kind for kind, _ in theme_entries(server, partner_id)] == ["theme.set", "theme.cleared"]
    assert httpx.get(server.url + theme["logoUrl"]).status_code == 404  # no longer the partner's logo
    assert "--pq-primary" not in httpx.get(f"{server.url}/portal/{partner_id}/theme.css").text


def test_refusals_are_envelopes_with_evidence(server: LiveServer, operator: LedgerClient) -> None:
    partner_id = new_partner(server)
    low = put_theme(operator, partner_id, primary="#FFCC00")
    assert low.status_code == 400
    error = error_of(low)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == "primary"
    assert error["details"]["ratio"] < error["details"]["required"] == 4.5
    assert put_theme(operator, partner_id, primary=error["details"]["suggestion"]).status_code == 200

    assert put_theme(operator, partner_id, primary="blue").status_code == 400
    assert put_theme(operator, partner_id, primary="#003da5", font="comic-sans").status_code == 400
    unknown_logo = put_theme(operator, partner_id, primary="#003da5", logoSha256="ab" * 32)
    assert error_of(unknown_logo)["details"]["field"] == "logoSha256"  # the wire name

    oversize = upload(operator, partner_id, "logo", png(64, 64) + b"\x00" * 200_001, "image/png")
    assert oversize.status_code == 400
    assert error_of(oversize)["details"] | {"size": 0} == {
        "field": "logo",
        "reason": "the file is larger than 200000 bytes",
        "size": 0,
        "limit": 200_000,
    }
    script = SAFE_SVG.replace(b"</svg>", b"<script>alert(1)</script></svg>")
    unsafe = upload(operator, partner_id, "logo", script, "image/svg+xml")
    assert "<script>" in error_of(unsafe)["details"]["reason"]
    bad_font = upload(operator, partner_id, "font", woff2(512, length=1), "font/woff2")
    assert (bad_font.status_code, error_of(bad_font)["details"]["field"]) == (400, "font")
    not_a_font = upload(operator, partner_id, "font", png(32, 32), "font/woff2")
    assert error_of(not_a_font)["details"]["allowed"] == ["font/woff2"]
    assert [kind for kind, _ in theme_entries(server, partner_id)] == ["theme.set"]  # only the accepted one

    missing = put_theme(operator, "no_such_partner", primary="#003da5")
    assert (missing.status_code, error_of(missing)["code"]) == (404, "NOT_FOUND")


def test_partners_cannot_use_the_operations_theme_routes(server: LiveServer) -> None:
    partner_id = new_partner(server)
    partner = server.client(server.create_partner(f"p_{uuid.uuid4().hex[:10]}"), max_retries=0)
    refused = put_theme(partner, partner_id, primary="#003da5")
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "AUTH_INSUFFICIENT_SCOPE"


def test_the_cli_sets_shows_and_clears(server: LiveServer, tmp_path: Path) -> None:
    partner_id = new_partner(server)
    logo = tmp_path / "logo.svg"
    logo.write_bytes(SAFE_SVG)
    done = ledger_command(
        "partners", "theme", "set", partner_id, "--primary", "#7A1F1F", "--display-name", "Mutual", "--logo", str(logo),
        "--font", "transitional", env=server.env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["theme"]["logoSha256"] == hashlib.sha256(SAFE_SVG).hexdigest()
    assert printed["theme"]["fontFamily"].startswith("Charter")
    shown = ledger_command("partners", "theme", "show", partner_id, env=server.env)
    assert json.loads(shown.stdout)["theme"] == printed["theme"]
    svg = httpx.get(f"{server.url}/portal/{partner_id}/theme-files/{printed['theme']['logoSha256']}")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert "sandbox" in svg.headers["content-security-policy"]

    bad = ledger_command("partners", "theme", "set", partner_id, "--primary", "#eeeeee", env=server.env)
    assert bad.returncode == 2
    assert bad.stderr.startswith("VALIDATION_ERROR: primary #eeeeee has contrast")
    big = tmp_path / "big.png"
    big.write_bytes(png(64, 64) + b"\x00" * 200_001)
    too_big = ledger_command(
        "partners", "theme", "set", partner_id, "--primary", "#003da5", "--logo", str(big), env=server.env
    )
    assert (too_big.returncode, "larger than 200000 bytes" in too_big.stderr) == (2, True)
    assert ledger_command("partners", "theme", "clear", partner_id, env=server.env).returncode == 0
    assert json.loads(ledger_command("partners", "theme", "show", partner_id, env=server.env).stdout)["theme"] is None
    assert [kind for kind, _ in theme_entries(server, partner_id)] == ["theme.set", "theme.cleared"]
