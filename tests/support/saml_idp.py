"""A real SAML 2.0 identity provider for tests: pysaml2's ``saml2.server.Server`` with its own keys, behind a
loopback HTTP server, as a partner's Okta would be.

``GET /sso`` takes our SP's signed AuthnRequest (HTTP-Redirect; the IdP requires the signature) and
answers the auto-posting form a browser submits to our ACS, for the user :attr:`InProcessIdp.current_user`.
``GET /slo`` takes our signed LogoutRequest and redirects back with a signed LogoutResponse.
:meth:`InProcessIdp.logout_url` builds an IdP-initiated, signed LogoutRequest for our SLO endpoint.

Responses are built unsigned by pysaml2, then :attr:`InProcessIdp.tweak` may alter the XML (audience,
issuer, times, ...), and only then are the assertion and/or the response signed with xmlsec1 (with the
IdP's key, or another key for the wrong-certificate case). Wrapping attacks and tampering alter the XML
after signing (:attr:`InProcessIdp.after_signing`).
"""

from __future__ import annotations

import base64
import html
import threading
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.certificates import self_signed

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="CFB has been moved")
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.config import IdPConfig
    from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
    from saml2.server import Server
    from saml2.sigver import CryptoBackendXmlSec1

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
GIVEN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
SURNAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"
for _prefix, _uri in (("samlp", SAMLP), ("saml", SAML), ("ds", DS)):
    ET.register_namespace(_prefix, _uri)

Tweak = Callable[[ET.Element], None]


@dataclass
class IdpUser:
    email: str
    partner_user_id: str
    first_name: str
    last_name: str
    role: str | None = "user"

    def identity(self) -> dict[str, list[str]]:
        values = {EMAIL: [self.email], GIVEN: [self.first_name], SURNAME: [self.last_name]}
        values["partnerId"] = [self.partner_user_id]
        if self.role is not None:
            values["role"] = [self.role]
        return values


def pem_body(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if line and "-----" not in line)


SHA1 = ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1")
SHA256 = (RSA_SHA256, "http://www.w3.org/2001/04/xmlenc#sha256")


def signature_template(reference: str, certificate_pem: str, algorithms: tuple[str, str] = SHA256) -> ET.Element:
    """An enveloped signature template over ``#reference`` (xmlsec1 fills the values)."""
    method, digest = algorithms
    return ET.fromstring(
        f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        f'<ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{reference}"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue/></ds:Reference>'
        "</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data>"
        f"<ds:X509Certificate>{pem_body(certificate_pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</ds:Signature>"
    )


@dataclass
class InProcessIdp:
    directory: Path
    name: str = "idp"
    certificate_not_after: Any = None
    users: dict[str, IdpUser] = field(default_factory=dict)
    current_user: str | None = None
    tweak: Tweak | None = None
    after_signing: Callable[[str], str] | None = None
    sign_assertion: bool = True
    sign_response: bool = False
    signing_key: str = "own"
    algorithms: tuple[str, str] = SHA256
    in_response_to: str | None = None
    logged_out: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        key, certificate = self_signed(f"{self.name}.test", not_after=self.certificate_not_after)
        other_key, other_certificate = self_signed(f"{self.name}-impostor.test")
        self.certificate = certificate
        self.keys = {
            "own": (self._write("idp.key", key), certificate),
            "other": (self._write("other.key", other_key), other_certificate),
        }
        self._write("idp.crt", certificate)
        self._backend = CryptoBackendXmlSec1("/usr/bin/xmlsec1")
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.entity_id = f"https://{self.name}.idp.test/metadata"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.server: Server | None = None

    def _write(self, name: str, content: str) -> Path:
        path = self.directory / name
        path.write_text(content)
        return path

    # -- configuration --------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """What the partner's IT team sends us (seed 001 §1.2)."""
        return {
            "entity_id": self.entity_id,
            "sso_url": f"{self.url}/sso",
            "slo_url": f"{self.url}/slo",
            "certificates": [self.certificate],
        }

    def trust_sp(self, sp_metadata: str) -> None:
        """Load our SP's metadata (what the IT team uploads to its IdP). Called again with another SP's (another
        partner's), the IdP trusts that one as well: one IdP can serve several partners' tests."""
        if self.server is not None:
            self.server.metadata.load("inline", sp_metadata)
            return
        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "key_file": str(self.directory / "idp.key"),
                "cert_file": str(self.directory / "idp.crt"),
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "signing_algorithm": RSA_SHA256,
                "digest_algorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
                "metadata": {"inline": [sp_metadata]},
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [(f"{self.url}/sso", BINDING_HTTP_REDIRECT)],
                            "single_logout_service": [(f"{self.url}/slo", BINDING_HTTP_REDIRECT)],
                        },
                        "want_authn_requests_signed": True,
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": 5},
                                "attribute_restrictions": None,
                                "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                            }
                        },
                    }
                },
            }
        )
        self.server = Server(config=config)

    def add_user(self, user: IdpUser) -> None:
        self.users[user.email] = user

    def reset(self) -> None:
        """Back to an honest IdP."""
        self.tweak = self.after_signing = self.in_response_to = None
        self.sign_assertion, self.sign_response, self.signing_key = True, False, "own"
        self.algorithms = SHA256

    def start_over(self, users: list[IdpUser]) -> None:
        """As if new (keys, entity id, trusted SPs and HTTP server kept): honest, with ``users``, nobody signed in
        or logged out."""
        self.reset()
        self.users = {}
        for user in users:
            self.add_user(user)
        self.current_user = None
        self.logged_out.clear()

    # -- responses ------------------------------------------------------------------------------------
    def response_xml(self, request_id: str, acs_url: str, sp_entity_id: str, user: IdpUser) -> str:
        """A response to ``request_id`` for ``user``, altered and signed as the attributes say."""
        if self.server is None:
            raise RuntimeError("trust_sp first")
        unsigned = self.server.create_authn_response(
            user.identity(),
            in_response_to=self.in_response_to or request_id,
            destination=acs_url,
            sp_entity_id=sp_entity_id,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user.email),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password", "authn_auth": self.entity_id},
            sign_response=False,
            sign_assertion=False,
        )
        root = ET.fromstring(str(unsigned))
        if self.tweak is not None:
            self.tweak(root)
        key_file, certificate = self.keys[self.signing_key]
        assertion = root.find(f"{{{SAML}}}Assertion")
        if assertion is None:
            raise RuntimeError("no assertion")
        if self.sign_assertion:
            assertion.insert(1, signature_template(assertion.get("ID") or "", certificate, self.algorithms))
        if self.sign_response:
            root.insert(1, signature_template(root.get("ID") or "", certificate, self.algorithms))
        document = ET.tostring(root, encoding="unicode")
        if self.sign_assertion:
            document = self._backend.sign_statement(document, f"{SAML}:Assertion", str(key_file), assertion.get("ID"))
        if self.sign_response:
            document = self._backend.sign_statement(document, f"{SAMLP}:Response", str(key_file), root.get("ID"))
        if self.after_signing is not None:
            document = self.after_signing(document)
        return str(document)

    def logout_url(self, sp_slo_url: str, target: str, email: str, *, sign: bool = True) -> str:
        """An IdP-initiated LogoutRequest for ``email`` to our SLO endpoint (``target`` is its real URL)."""
        if self.server is None:
            raise RuntimeError("trust_sp first")
        _, request = self.server.create_logout_request(
            sp_slo_url, self.entity_id, name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email), sign=False
        )
        info = self.server.apply_binding(BINDING_HTTP_REDIRECT, str(request), target, "", sign=sign, sigalg=RSA_SHA256)
        return str(dict(info["headers"])["Location"])

    # -- HTTP -----------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                del format, args

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                try:
                    if parts.path == "/sso":
                        status, headers, body = idp._sso(params)
                    elif parts.path == "/slo":
                        status, headers, body = idp._slo(params)
                    else:
                        status, headers, body = 404, {}, b"not found"
                except Exception as error:  # the test sees the IdP's refusal as a 400 with its reason
                    status, headers, body = 400, {}, f"{type(error).__name__}: {error}".encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _sso(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self.server is None or self.current_user is None:
            raise RuntimeError("no SP trusted or no user signed in at the IdP")
        request = self.server.parse_authn_request(
            params["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=params.get("RelayState"),
            sigalg=params.get("SigAlg"),
            signature=params.get("Signature"),
        )
        message = request.message
        document = self.response_xml(
            message.id, message.assertion_consumer_service_url, message.issuer.text, self.users[self.current_user]
        )
        form = (
            f'<form method="post" action="{html.escape(message.assertion_consumer_service_url)}">'
            f'<input type="hidden" name="SAMLResponse" value="{base64.b64encode(document.encode()).decode()}"/>'
            f'<input type="hidden" name="RelayState" value="{html.escape(params.get("RelayState", ""))}"/></form>'
        )
        return 200, {"Content-Type": "text/html"}, form.encode()

    def _slo(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self.server is None:
            raise RuntimeError("no SP trusted")
        request = self.server.parse_logout_request(
            params["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=params.get("RelayState"),
            sigalg=params.get("SigAlg"),
            signature=params.get("Signature"),
        )
        self.logged_out.append(request.message.name_id.text)
        response = self.server.create_logout_response(request.message, [BINDING_HTTP_REDIRECT], sign=False)
        destination = request.message.issuer.text.replace("/metadata", "/slo")
        info = self.server.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(response),
            destination,
            params.get("RelayState", ""),
            response=True,
            sign=True,
            sigalg=RSA_SHA256,
        )
        return 302, {"Location": str(dict(info["headers"])["Location"])}, b""

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of an auto-posting form."""
    root = ET.fromstring(page)
    fields = {str(element.get("name")): html.unescape(str(element.get("value"))) for element in root.iter("input")}
    return html.unescape(str(root.get("action"))), fields
