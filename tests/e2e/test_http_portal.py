"""The member portal, its embedding and its portal origins through HTTP (docs/portal.md).

A real server subprocess: the operations API and the CLI register a partner's portal origins (validated,
normalized, recorded in the log); every portal page carries ``frame-ancestors`` of its member's partner;
the widget's configuration is readable cross-origin by registered origins only; the portal enrolls through
the operations path's use case (same event) with the CSRF token, and shows the result only on the
member's own result page.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from support.http_server import LiveServer, ledger_command, live_server
from support.portal import SAMESITE_NONE, member_token, ops_json, portal_partner, session_cookies

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from api.client.ledger_client import LedgerApiError

PARTNER_SITE = "https://benefits.partner.example"
JSON = {"Content-Type": "application/json"}
OPEN_CLIENTS: list[httpx.Client] = []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("portal") / "data", extra_env=SAMESITE_NONE) as live:
        yield live
    for client in OPEN_CLIENTS:
        client.close()


def signed_in(server: LiveServer, origins: list[str]) -> tuple[httpx.Client, str, str, str]:
    """A client holding a member's session (through ``/embed``), the partner and member ids, the CSRF token."""
    partner = portal_partner(server, origins)
    answer = httpx.get(
        f"{server.url}/embed/{partner.partner_id}",
        params={"sso_token": member_token(partner.credentials, partner.member_ids[0])},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/portal"
    assert "frame-ancestors 'self' " + " ".join(origins) in answer.headers["content-security-policy"]
    cookies = session_cookies(answer)
    assert re.search(r"SameSite=None", answer.headers["set-cookie"], re.IGNORECASE)
    jar = "; ".join(f"{name}={value}" for name, value in cookies.items())
    client = httpx.Client(base_url=server.url, headers={"Cookie": jar})
    OPEN_CLIENTS.append(client)
    csrf = next(value for name, value in cookies.items() if name.endswith("csrf"))
    return client, partner.partner_id, partner.member_ids[0], csrf


def test_operations_api_registers_validated_portal_origins(server: LiveServer) -> None:
    partner = portal_partner(server, [])
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    path = f"/api/v1/operations/partners/{partner.partner_id}/portal-origins"
    assert ops.send("GET", path).json() == {"partnerId": partner.partner_id, "origins": []}
    body = {"origins": ["HTTPS://Benefits.Partner.Example:443/", "http://localhost:8080", PARTNER_SITE]}
    answer = ops.send("PUT", path, body=ops_json(body), headers=JSON).json()
    assert answer["origins"] == [PARTNER_SITE, "http://localhost:8080"][::-1] or answer["origins"] == sorted(
        [PARTNER_SITE, "http://localhost:8080"]
    )
    for wrong in (
        "https://partner.example/path",
        "http://partner.example",
        "ftp://partner.example",
        "https://u:p@x.example",
    ):
        with pytest.raises(LedgerApiError) as refused:
            ops.send("PUT", path, body=ops_json({"origins": [wrong]}), headers=JSON)
        assert refused.value.status == 400 or refused.value.status == 422, wrong
    with open_ledger(StorageConfig(server.data_dir, server.database_url)) as ledger:
        types = [e.type for e in ledger.entries() if e.partner_id == partner.partner_id]
    assert types.count("embedding.origins_set") == 1
    partner_client = server.client(partner.credentials)
    with pytest.raises(LedgerApiError) as forbidden:
        partner_client.send("GET", path)
    assert forbidden.value.status == 403


def test_cli_sets_and_clears_portal_origins(server: LiveServer) -> None:
    partner = portal_partner(server, [])
    done = ledger_command("partners", "portal-origins", partner.partner_id, "--origin", PARTNER_SITE, env=server.env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["portalOrigins"] == [PARTNER_SITE]
    shown = ledger_command("partners", "portal-origins", partner.partner_id, env=server.env)
    assert json.loads(shown.stdout)["portalOrigins"] == [PARTNER_SITE]
    wrong = ledger_command(
        "partners", "portal-origins", partner.partner_id, "--origin", "https://x.example/a", env=server.env
    )
    assert wrong.returncode != 0
    cleared = ledger_command("partners", "portal-origins", partner.partner_id, "--clear", env=server.env)
    assert json.loads(cleared.stdout)["portalOrigins"] == []


def test_widget_configuration_is_cors_readable_by_registered_origins_only(server: LiveServer) -> None:
    partner = portal_partner(server, [PARTNER_SITE])
    path = f"{server.url}/embed/{partner.partner_id}/widget.json"
    allowed = httpx.get(path, headers={"Origin": PARTNER_SITE})
    assert allowed.headers["access-control-allow-origin"] == PARTNER_SITE
    assert allowed.headers["vary"] == "Origin"
    assert allowed.json() == {
        "partnerId": partner.partner_id,
        "displayName": partner.partner_id,
        "framePath": f"/embed/{partner.partner_id}",
    }
    other = httpx.get(path, headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers
    script = httpx.get(f"{server.url}/widget.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "FairUnderwriting" in script.text


def test_portal_pages_carry_the_partners_frame_ancestors(server: LiveServer) -> None:
    client, _, _, _ = signed_in(server, [PARTNER_SITE])
    for path in ("/portal", "/portal/result"):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        policy = answer.headers["content-security-policy"]
        assert policy.endswith(f"frame-ancestors 'self' {PARTNER_SITE}")
        assert "script-src 'self'" in policy
        assert answer.headers["cache-control"] == "no-store"
    signed_out = httpx.get(f"{server.url}/portal")
    assert signed_out.status_code == 401
    assert signed_out.headers["content-security-policy"].endswith("frame-ancestors 'self'")


def test_enrolling_in_the_portal_is_the_operations_enrollment(server: LiveServer) -> None:
    client, partner_id, member_id, csrf = signed_in(server, [PARTNER_SITE])
    without_consent = client.post("/portal/enroll", data={"csrf_token": csrf})
    assert without_consent.status_code == 422
    assert 'role="alert"' in without_consent.text
    forged = client.post("/portal/enroll", data={"csrf_token": "forged", "consent": "yes"})
    assert forged.status_code == 403
    enrolled = client.post("/portal/enroll", data={"csrf_token": csrf, "consent": "yes"})
    assert enrolled.status_code == 303
    assert enrolled.headers["location"] == "/portal?done=enrolled"
    page = client.get("/portal?done=enrolled").text
    assert "Enrolled: consent given" in page
    with open_ledger(StorageConfig(server.data_dir, server.database_url)) as ledger:
        events = [e for e in ledger.entries() if e.partner_id == partner_id and e.type == "enrollment.enrolled"]
    assert len(events) == 1
    subscribed = client.post("/portal/subscription", data={"csrf_token": csrf, "action": "start"})
    assert subscribed.status_code == 303
    assert "Active: 50.00 USD, annual" in client.get("/portal").text
    cancelled = client.post("/portal/subscription", data={"csrf_token": csrf, "action": "cancel"})
    assert cancelled.status_code == 303
    assert "Start monitoring" in client.get("/portal").text
    del member_id


def test_the_result_appears_only_on_the_members_result_page(server: LiveServer) -> None:
    client, partner_id, member_id, csrf = signed_in(server, [PARTNER_SITE])
    assert client.post("/portal/enroll", data={"csrf_token": csrf, "consent": "yes"}).status_code == 303
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    base = f"/api/v1/operations/enrollments/{partner_id}/{member_id}"
    today = client.get("/portal").text
    enrolled_on = re.search(r"(\d{4}-\d{2}-\d{2})", today)
    assert enrolled_on is not None
    day = enrolled_on.group(1)
    ops.send("POST", base + "/kit", body=ops_json({"kit_order_date": day}), headers=JSON)
    ops.send(
        "POST",
        base + "/sample",
        body=ops_json({"sample_received_date": day, "estimated_result_date": day}),
        headers=JSON,
    )
    ops.send("POST", base + "/result", body=ops_json({"result_delivery_date": day, "result_type": "MZ"}), headers=JSON)
    overview = client.get("/portal").text
    assert "Result ready" in overview
    assert "See your result" in overview
    assert "Z variant" not in overview  # the result's words (an "MZ" could occur inside a random token)
    assert "carrier" not in overview
    result = client.get("/portal/result").text
    assert "MZ: one Z variant (a carrier)" in result


def test_an_open_portal_page_rotates_its_session_with_frame_cookies(server: LiveServer) -> None:
    client, _, _, csrf = signed_in(server, [PARTNER_SITE])
    assert 'data-refresh-after="240"' in client.get("/portal").text
    refused = client.post("/portal/session/refresh")
    assert refused.status_code == 403
    rotated = client.post("/portal/session/refresh", headers={"X-CSRF-Token": csrf})
    assert rotated.status_code == 204
    set_cookies = rotated.headers.get_list("set-cookie")
    assert len(set_cookies) == 2  # access and refresh; the CSRF token lasts the family
    assert all("Partitioned" in cookie and "SameSite=none" in cookie for cookie in set_cookies)


def test_embed_refuses_another_partners_token_and_a_replayed_one(server: LiveServer) -> None:
    mine, theirs = portal_partner(server, [PARTNER_SITE]), portal_partner(server, [PARTNER_SITE])
    foreign = member_token(theirs.credentials, theirs.member_ids[0])
    refused = httpx.get(f"{server.url}/embed/{mine.partner_id}", params={"sso_token": foreign})
    assert refused.status_code == 403
    assert "token_invalid" in refused.text
    assert "set-cookie" not in refused.headers
    token = member_token(mine.credentials, mine.member_ids[0])
    assert httpx.get(f"{server.url}/embed/{mine.partner_id}", params={"sso_token": token}).status_code == 303
    again = httpx.get(f"{server.url}/embed/{mine.partner_id}", params={"sso_token": token})
    assert again.status_code == 403
    assert "replayed" in again.text
