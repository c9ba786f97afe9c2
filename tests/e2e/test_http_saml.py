"""The SAML 2.0 service provider end to end, against a real in-process IdP (pysaml2's ``Server`` with its own
keys, on loopback), driven through HTTP like a browser, on both backends: login with just-in-time accounts
for six test users (seed 001 §7.1), attribute updates, SP- and IdP-initiated logout, a deprovisioned user
refused, and every failure refused with the failure page and its reason code."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from support.browser import Browser
from support.http_server import LiveServer, servers
from support.saml_idp import DS, SAML, SAMLP, SHA1, IdpUser, InProcessIdp, form_fields

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from api.client.ledger_client import LedgerClient

BASE = "https://sso.test"
REQUEST_COOKIE = "__Host-ledger_saml_request"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    extra = {"LEDGER_SSO_BASE_URL": BASE, "LEDGER_SSO_ALLOW_HTTP_PROVIDERS": "1", "LEDGER_MAX_BODY_BYTES": "262144"}
    yield from servers(request, tmp_path_factory, request.param, extra)


@dataclass
class Shared:
    """What the tests of one backend share: the IdP (its keys, HTTP server and pysaml2 server, trusting each
    test's SP in turn) and an operations client. Each test has its own partner, SP metadata, browsers and
    IdP users, and starts from an honest IdP (:meth:`InProcessIdp.start_over`)."""

    idp: InProcessIdp
    operations: LedgerClient


@pytest.fixture(scope="module")
def shared(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    idp = InProcessIdp(tmp_path_factory.mktemp("idp"), name=f"okta-{uuid.uuid4().hex[:6]}")
    try:
        yield Shared(idp, server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}")))
    finally:
        idp.close()


@dataclass
class Setup:
    server: LiveServer
    partner: str
    provider: str
    idp: InProcessIdp
    operations: LedgerClient

    @property
    def root(self) -> str:
        return f"/sso/saml/{self.partner}/{self.provider}"

    def configure(self, settings: dict[str, object], user_kind: str = "staff") -> None:
        body = json.dumps({"user_kind": user_kind, "default_role": "read-only", **settings}).encode()
        self.operations.send(
            "PUT", f"/api/v1/operations/sso/{self.partner}/saml/{self.provider}", body=body, headers=JSON
        )

    def post_to_acs(self, browser: Browser, user: str) -> tuple[httpx.Response, dict[str, str]]:
        """Browser: our login -> the IdP (302) -> the IdP's auto-post form -> our ACS. Returns the ACS answer."""
        self.idp.current_user = user
        start = browser.get(f"{self.root}/login", params={"next": "/portal/home"})
        assert start.status_code == 302, start.text
        page = httpx.get(start.headers["location"], timeout=30)
        assert page.status_code == 200, page.text
        action, fields = form_fields(page.text)
        assert urlsplit(action).path == f"{self.root}/acs"
        return browser.post(urlsplit(action).path, data=fields), fields


USERS = [
    IdpUser("ada.okafor@partner.example", "E-1001", "Ada", "Okafor", "admin"),
    IdpUser("bo.lindqvist@partner.example", "E-1002", "Bo", "Lindqvist", "user"),
    IdpUser("chen.wei@partner.example", "E-1003", "Chen", "Wei", "read-only"),
    IdpUser("dara.nwosu@partner.example", "E-1004", "Dara", "Nwosu", None),
    IdpUser("eliska.novak@partner.example", "E-1005", "Eliska", "Novak", "user"),
    IdpUser("farid.haddad@partner.example", "E-1006", "Farid", "Haddad", "admin"),
]


@pytest.fixture
def setup(server: LiveServer, shared: Shared) -> Setup:
    """A new partner with a SAML IdP configured through the operations API, the IdP trusting our SP metadata."""
    partner = server.create_partner(f"p_{uuid.uuid4().hex[:10]}").partner_id
    idp = shared.idp
    idp.start_over([copy.deepcopy(user) for user in USERS])
    found = Setup(server, partner, "okta", idp, shared.operations)
    found.configure(idp.settings())
    metadata = httpx.get(f"{server.url}{found.root}/metadata", timeout=30)
    assert metadata.status_code == 200
    assert metadata.headers["content-type"].startswith("application/samlmetadata+xml")
    idp.trust_sp(metadata.text)
    return found


def reason_of(response: httpx.Response) -> str:
    assert response.status_code == 403, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    found = re.search(r'<code id="reason">([a-z_]+)</code>', response.text)
    assert found is not None, response.text
    return found.group(1)


def events(server: LiveServer, partner: str) -> list[tuple[str, dict[str, object]]]:
    with open_ledger(StorageConfig(server.data_dir, server.database_url)) as ledger:
        return [
            (e.type, e.payload) for e in ledger.entries() if e.partner_id == partner and e.type.startswith("account.")
        ]


def test_six_users_sign_in_update_and_log_out(setup: Setup) -> None:
    """Each user signs in through the IdP (JIT account, role from the IdP or the default), a changed surname
    is recorded as an update, and both logouts end the session."""
    for user in USERS:
        browser = Browser(setup.server.url)
        try:
            answer, _ = setup.post_to_acs(browser, user.email)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/portal/home"
            assert browser.last_set["__Host-ledger_saml"].attributes["httponly"]
            session = browser.get("/sso/session").json()
            assert session["role"] == (user.role or "read-only")
            assert session["provider_id"] == "okta"
        finally:
            browser.close()
    provisioned = [payload for kind, payload in events(setup.server, setup.partner) if kind == "account.provisioned"]
    assert sorted(str(p["partner_user_id"]) for p in provisioned) == [u.partner_user_id for u in USERS]
    log_text = json.dumps(events(setup.server, setup.partner))
    assert not any(u.email in log_text or u.last_name in log_text for u in USERS)

    setup.idp.users[USERS[0].email].last_name = "Okafor-Baptiste"
    browser = Browser(setup.server.url)
    try:
        assert setup.post_to_acs(browser, USERS[0].email)[0].status_code == 303
        updates = [p for kind, p in events(setup.server, setup.partner) if kind == "account.attributes_updated"]
        assert [u["changed"] for u in updates] == [["last_name"]]

        logout = browser.post(f"{setup.root}/logout", csrf=True)
        assert logout.status_code == 200
        assert logout.json()["sessions_revoked"] == 1
        at_idp = httpx.get(logout.json()["idp_logout_url"], timeout=30)
        assert at_idp.status_code == 302
        assert setup.idp.logged_out == [USERS[0].email]
        back = browser.get(urlsplit(at_idp.headers["location"]).path + "?" + urlsplit(at_idp.headers["location"]).query)
        assert back.status_code == 200
        assert "signed out" in back.text
        assert browser.get("/sso/session").status_code == 401
    finally:
        browser.close()


def test_idp_initiated_logout_ends_the_users_sessions(setup: Setup) -> None:
    """A signed LogoutRequest from the IdP revokes that user's sessions (only theirs) and is answered; an
    unsigned one is refused and revokes nothing."""
    first, second = Browser(setup.server.url), Browser(setup.server.url)
    try:
        setup.post_to_acs(first, USERS[1].email)
        setup.post_to_acs(second, USERS[2].email)
        slo = f"{BASE}{setup.root}/slo"
        unsigned = setup.idp.logout_url(slo, f"{setup.server.url}{setup.root}/slo", USERS[1].email, sign=False)
        assert reason_of(httpx.get(unsigned, timeout=30)) == "unsigned"
        assert first.get("/sso/session").status_code == 200
        signed = setup.idp.logout_url(slo, f"{setup.server.url}{setup.root}/slo", USERS[1].email)
        answer = httpx.get(signed, timeout=30)
        assert answer.status_code == 302
        assert answer.headers["location"].startswith(f"{setup.idp.url}/slo?SAMLResponse=")
        assert reason_of(httpx.get(signed, timeout=30)) == "replayed"
        assert first.get("/sso/session").status_code == 401
        assert second.get("/sso/session").status_code == 200
    finally:
        first.close()
        second.close()


def test_deprovisioned_user_is_refused(setup: Setup) -> None:
    """After the partner deactivates the user, the IdP's valid assertion no longer signs them in."""
    browser = Browser(setup.server.url)
    try:
        assert setup.post_to_acs(browser, USERS[3].email)[0].status_code == 303
        body = json.dumps({"reason": "left the partner"}).encode()
        setup.operations.send(
            "POST", f"/api/v1/operations/sso/{setup.partner}/accounts/staff/E-1004/deactivate", body=body, headers=JSON
        )
        assert browser.get("/sso/session").status_code == 401
        assert reason_of(setup.post_to_acs(browser, USERS[3].email)[0]) == "account_deactivated"
        assert [kind for kind, _ in events(setup.server, setup.partner)][-1] == "account.deactivated"
    finally:
        browser.close()


def test_replayed_assertion_is_refused(setup: Setup) -> None:
    """The same signed response posted twice, even with the captured request cookie: the second is refused
    (assertion ids are remembered)."""
    browser = Browser(setup.server.url)
    try:
        answer, fields = setup.post_to_acs(browser, USERS[4].email)
        assert answer.status_code == 303
        binding = browser.cookies[REQUEST_COOKIE]
    finally:
        browser.close()
    attacker = Browser(setup.server.url, cookies={REQUEST_COOKIE: binding})
    try:
        assert reason_of(attacker.post(f"{setup.root}/acs", data=fields)) == "replayed"
        assert set(attacker.cookies) == {REQUEST_COOKIE}
    finally:
        attacker.close()


def test_a_response_started_elsewhere_is_refused(setup: Setup) -> None:
    """Login CSRF: an attacker's own valid response, posted from the victim's browser (which did not start
    that sign-in), is refused; the request cookie is SameSite=None so the IdP's cross-site POST carries it."""
    attacker, victim = Browser(setup.server.url), Browser(setup.server.url)
    try:
        setup.idp.current_user = USERS[5].email
        start = attacker.get(f"{setup.root}/login")
        attributes = attacker.last_set[REQUEST_COOKIE].attributes
        assert attributes["samesite"].lower() == "none"
        assert attributes["secure"]
        assert attributes["httponly"]
        action, fields = form_fields(httpx.get(start.headers["location"], timeout=30).text)
        victim.get(f"{setup.root}/login")  # the victim's own, different sign-in
        assert reason_of(victim.post(urlsplit(action).path, data=fields)) == "unknown_in_response_to"
        stranger = Browser(setup.server.url)  # no request cookie at all
        assert reason_of(stranger.post(urlsplit(action).path, data=fields)) == "unknown_in_response_to"
        stranger.close()
        assert attacker.post(urlsplit(action).path, data=fields).status_code == 303
    finally:
        attacker.close()
        victim.close()


# -- the failure cases: each tweak of an honest response, and the reason it is refused with ---------------
def _set_all(attribute: str, value: str) -> Callable[[ET.Element], None]:
    def tweak(root: ET.Element) -> None:
        for element in root.iter():
            if element.get(attribute) is not None:
                element.set(attribute, value)

    return tweak


def _audience(root: ET.Element) -> None:
    for audience in root.iter(f"{{{SAML}}}Audience"):
        audience.text = "https://another-sp.example/metadata"


def _issuer(root: ET.Element) -> None:
    for issuer in root.iter(f"{{{SAML}}}Issuer"):
        issuer.text = "https://impostor-idp.example/metadata"


def _recipient(root: ET.Element) -> None:
    for data in root.iter(f"{{{SAML}}}SubjectConfirmationData"):
        data.set("Recipient", "https://another-sp.example/acs")


def _expired(root: ET.Element) -> None:
    old = datetime.now(UTC) - timedelta(hours=2)
    for element in root.iter():
        for name, moment in (("IssueInstant", old), ("NotBefore", old), ("NotOnOrAfter", old + timedelta(minutes=5))):
            if element.get(name) is not None:
                element.set(name, moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _assertion(root: ET.Element) -> ET.Element:
    found = root.find(f"{{{SAML}}}Assertion")
    assert found is not None
    return found


def _evil_copy(assertion: ET.Element, new_id: str | None) -> ET.Element:
    evil = copy.deepcopy(assertion)
    signature = evil.find(f"{{{DS}}}Signature")
    if signature is not None:
        evil.remove(signature)
    if new_id is not None:
        evil.set("ID", new_id)
    for value in evil.iter(f"{{{SAML}}}AttributeValue"):
        if value.text == "E-1002":
            value.text = "E-9999-evil"
    return evil


def _rewrite(transform: Callable[[ET.Element], None]) -> Callable[[str], str]:
    def after(document: str) -> str:
        root = ET.fromstring(document)
        transform(root)
        return ET.tostring(root, encoding="unicode")

    return after


def _xsw_sibling(root: ET.Element) -> None:  # evil assertion next to the signed one
    signed = _assertion(root)
    root.insert(list(root).index(signed), _evil_copy(signed, "id-evil-sibling"))


def _xsw_extensions(root: ET.Element) -> None:  # signed assertion hidden in Extensions, evil one in its place
    signed = _assertion(root)
    root.remove(signed)
    extensions = ET.Element(f"{{{SAMLP}}}Extensions")
    extensions.append(signed)
    root.insert(1, extensions)
    root.append(_evil_copy(signed, "id-evil-ext"))


def _xsw_object(root: ET.Element) -> None:  # evil assertion with the signed ID, original inside ds:Object
    signed = _assertion(root)
    evil = _evil_copy(signed, None)
    signature = copy.deepcopy(signed.find(f"{{{DS}}}Signature"))
    assert signature is not None
    ET.SubElement(signature, f"{{{DS}}}Object").append(_evil_copy(signed, None))
    evil.insert(1, signature)
    root.remove(signed)
    root.append(evil)


def _xsw_advice(root: ET.Element) -> None:  # signed assertion nested in the evil one's Advice
    signed = _assertion(root)
    evil = _evil_copy(signed, "id-evil-advice")
    advice = ET.Element(f"{{{SAML}}}Advice")
    advice.append(signed)
    root.remove(signed)
    evil.insert([child.tag for child in evil].index(f"{{{SAML}}}Conditions") + 1, advice)
    root.append(evil)


def _xsw_response(root: ET.Element) -> None:  # the whole signed response wrapped in an evil one
    inner = copy.deepcopy(root)
    for child in list(root):
        if child.tag == f"{{{SAML}}}Assertion":
            root.remove(child)
    root.set("ID", "id-evil-response")
    root.append(_evil_copy(_assertion(inner), "id-evil-inner"))
    extensions = ET.Element(f"{{{SAMLP}}}Extensions")
    extensions.append(inner)
    root.insert(1, extensions)


def _tamper(document: str) -> str:
    return document.replace("E-1002", "E-1003")


FAILURES: dict[str, tuple[dict[str, object], str]] = {
    "bad signature (tampered attribute)": ({"after_signing": _tamper}, "signature_invalid"),
    "wrong certificate": ({"signing_key": "other"}, "signature_invalid"),
    "wrong certificate on the response": (
        {"signing_key": "other", "sign_assertion": False, "sign_response": True},
        "signature_invalid",
    ),
    "unsigned assertion": ({"sign_assertion": False}, "unsigned"),
    "SHA-1 signature": ({"algorithms": SHA1}, "algorithm_refused"),
    "XSW sibling assertion": ({"after_signing": _rewrite(_xsw_sibling)}, "signature_wrapping"),
    "XSW assertion in Extensions": ({"after_signing": _rewrite(_xsw_extensions)}, "signature_wrapping"),
    "XSW original in ds:Object": ({"after_signing": _rewrite(_xsw_object)}, "signature_wrapping"),
    "XSW original in Advice": ({"after_signing": _rewrite(_xsw_advice)}, "signature_wrapping"),
    "XSW wrapped signed response": (
        {"sign_assertion": False, "sign_response": True, "after_signing": _rewrite(_xsw_response)},
        "signature_wrapping",
    ),
    "wrong audience": ({"tweak": _audience}, "audience_mismatch"),
    "wrong issuer": ({"tweak": _issuer}, "issuer_mismatch"),
    "wrong destination": ({"tweak": _set_all("Destination", "https://another-sp.example/acs")}, "destination_mismatch"),
    "wrong recipient": ({"tweak": _recipient}, "recipient_mismatch"),
    "expired": ({"tweak": _expired}, "expired"),
    "not yet valid": ({"tweak": _set_all("NotBefore", "2099-01-01T00:00:00Z")}, "not_yet_valid"),
    "unknown InResponseTo": ({"in_response_to": "id-we-never-sent-this"}, "unknown_in_response_to"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failure_is_refused_with_its_reason(setup: Setup, case: str) -> None:
    """The IdP's response is altered as the case says; the ACS answers the failure page with the reason
    code, sets no cookie, and records nothing."""
    changes, reason = FAILURES[case]
    for name, value in changes.items():
        setattr(setup.idp, name, value)
    browser = Browser(setup.server.url)
    try:
        answer, _ = setup.post_to_acs(browser, USERS[1].email)
        assert reason_of(answer) == reason
        assert set(browser.cookies) == {REQUEST_COOKIE}  # no session cookie
        assert events(setup.server, setup.partner) == []
    finally:
        browser.close()


def test_expired_idp_certificate_is_refused(server: LiveServer, shared: Shared, tmp_path: Path) -> None:
    """An IdP whose only certificate has expired: sign-in is refused before and after the IdP."""
    partner = server.create_partner(f"p_{uuid.uuid4().hex[:10]}").partner_id
    expired = datetime.now(UTC) - timedelta(days=1)
    idp = InProcessIdp(tmp_path / "idp", name="expired", certificate_not_after=expired)
    try:
        setup = Setup(server, partner, "old", idp, shared.operations)
        setup.configure(idp.settings())
        browser = Browser(server.url)
        assert reason_of(browser.get(f"{setup.root}/login")) == "idp_certificate_expired"
        acs = browser.post(f"{setup.root}/acs", data={"SAMLResponse": "PHNhbWxwOlJlc3BvbnNlLz4=", "RelayState": "/"})
        assert reason_of(acs) == "idp_certificate_expired"
        browser.close()
    finally:
        idp.close()


def test_sp_metadata_is_signed_by_the_sp_key(setup: Setup) -> None:
    """Our metadata names the ACS and SLO endpoints and verifies with xmlsec1 under the SP certificate."""
    document = httpx.get(f"{setup.server.url}{setup.root}/metadata", timeout=30).text
    assert f'Location="{BASE}{setup.root}/acs"' in document
    assert "emailAddress" in document
    path = setup.idp.directory / "sp-metadata.xml"
    path.write_text(document)
    verified = subprocess.run(
        [
            "xmlsec1", "--verify", "--pubkey-cert-pem", str(setup.server.data_dir / "saml_sp.crt"),
            "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor", str(path),
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert httpx.get(f"{setup.server.url}/sso/saml/{setup.partner}/nope/metadata", timeout=30).status_code == 403
