"""The SAML 2.0 service provider of every partner IdP (pysaml2 over xmlsec1; docs/sso.md "SAML").

One SP per (partner, provider) at :class:`~adapters.saml.endpoints.SpEndpoints`, all sharing one signing key:

* :meth:`SamlServiceProvider.metadata`: our signed SP metadata (SAML metadata section 2.3).
* :meth:`SamlServiceProvider.begin_login`: an AuthnRequest, signed, for the HTTP-Redirect binding; its id is
  remembered in the shared :class:`~ledger_core.accounts.ports.OneTimeStore` for ``request_ttl``.
* :meth:`SamlServiceProvider.consume`: the ACS (HTTP-POST binding). The document is checked by
  :mod:`adapters.saml.inspection` (structure against signature wrapping, issuer, destination, audience,
  recipient, validity window, InResponseTo), its ``InResponseTo`` must be a request we sent, still
  remember, and that this browser started (a keyed binding cookie set at login), then pysaml2 verifies
  the signature (response or assertion) with the IdP's certificates from metadata only
  (:mod:`adapters.saml.idp_metadata`). The assertion id is remembered for its lifetime (a replay is
  refused with ``replayed``) and the request is used up. The result is an
  :class:`~ledger_core.accounts.identity.IdentityAssertion` for the login use case, built from the
  verified assertion with the provider's attribute map.
* Single logout (:meth:`begin_logout`, :meth:`handle_slo`): SP-initiated (a signed LogoutRequest to the IdP's
  SLO URL) and IdP-initiated (a LogoutRequest whose redirect signature is verified; the sessions of that
  NameID are revoked and a signed LogoutResponse goes back).

The NameID (an email address) is personal: it is never stored or logged. Sessions carry a keyed digest of
it (``session_ref``), and SP-initiated logout reads it back from :meth:`logout_handle`, an AES-GCM sealed
cookie value only this deployment can open.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import defusedxml.ElementTree as SafeElementTree
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.saml import _pysaml2 as saml
from adapters.saml.endpoints import SpEndpoints
from adapters.saml.idp_metadata import idp_metadata, valid_certificates
from adapters.saml.inspection import SAML, SAMLP, Expectations, inspect_response, parse
from adapters.saml.redirect_signature import RSA_SHA256, verify_redirect_signature
from ledger_core.accounts.errors import LoginFailure, LoginRefused
from ledger_core.accounts.identity import IdentityAssertion
from ledger_core.accounts.ports import OneTimeStore
from ledger_core.accounts.providers import IdentityProvider, SamlSettings

SHA256_DIGEST = "http://www.w3.org/2001/04/xmlenc#sha256"
REQUEST_KIND = "saml_request"
ASSERTION_KIND = "saml_assertion"
LOGOUT_KIND = "saml_logout"
MAX_RESPONSE_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class LoginStart:
    """Where to send the browser, and the value it must bring back to the ACS (a cookie)."""

    location: str
    browser_binding: str


@dataclass(frozen=True, slots=True)
class VerifiedLogin:
    assertion: IdentityAssertion
    relay_state: str
    logout_handle: str
    """Sealed NameID and SessionIndex for SP-initiated logout (a cookie value; opaque to the browser)."""


@dataclass(frozen=True, slots=True)
class SloOutcome:
    """What an SLO endpoint call did: sessions to revoke (``session_ref``) and where to send the browser."""

    session_ref: str | None
    redirect_url: str | None


def safe_relay(value: str | None) -> str:
    """A same-site path to land on after sign-in (anything else becomes ``/``: no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 1000:
        return "/"
    return value


class SamlServiceProvider:
    """SAML SP endpoints for every configured SAML provider; one instance per server process."""

    def __init__(
        self,
        *,
        base_url: str,
        key_file: Path,
        cert_file: Path,
        one_time: OneTimeStore,
        clock: Callable[[], datetime],
        skew: timedelta,
        request_ttl: timedelta,
        max_age: timedelta,
        secret: bytes,
        xmlsec_binary: str = "/usr/bin/xmlsec1",
    ) -> None:
        """``secret`` keys the session references and seals the logout handles (derive it per deployment)."""
        self.base_url = base_url
        self._key_file, self._cert_file = key_file, cert_file
        self._one_time = one_time
        self._clock = clock
        self._skew, self._request_ttl, self._max_age = skew, request_ttl, max_age
        self._ref_key = hmac.new(secret, b"saml-session-ref", hashlib.sha256).digest()
        self._handle_aead = AESGCM(hmac.new(secret, b"saml-logout-handle", hashlib.sha256).digest())
        self._binding_key = hmac.new(secret, b"saml-browser-binding", hashlib.sha256).digest()
        self._xmlsec = xmlsec_binary
        self._clients: dict[tuple[str, str, str], saml.Saml2Client] = {}
        self._lock = threading.Lock()

    # -- endpoints ------------------------------------------------------------------------------------
    def endpoints(self, provider: IdentityProvider) -> SpEndpoints:
        return SpEndpoints.of(self.base_url, provider.partner_id, provider.provider_id)

    def metadata(self, provider: IdentityProvider) -> str:
        """Our SP metadata for this provider, signed with the SP key (SAML metadata 2.3, xmldsig)."""
        client = self._client(provider)
        document = saml.create_metadata_string(None, config=client.config, sign=True)
        return document.decode("utf-8") if isinstance(document, bytes) else str(document)

    def begin_login(self, provider: IdentityProvider, next_path: str | None) -> LoginStart:
        """The IdP URL carrying a signed AuthnRequest (HTTP-Redirect); the request id is remembered, and the
        browser gets a binding to it (a cookie value) that the ACS asks back: a response obtained by someone
        else cannot be posted from this browser (login CSRF)."""
        settings = provider.saml
        client = self._client(provider)
        request_id, info = client.prepare_for_authenticate(
            entityid=settings.entity_id,
            relay_state=safe_relay(next_path),
            binding=saml.BINDING_HTTP_REDIRECT,
            nameid_format=saml.NAMEID_FORMAT_EMAILADDRESS,
            sigalg=RSA_SHA256,
            digest_alg=SHA256_DIGEST,
        )
        request_key = self._request_key(provider, request_id)
        self._one_time.put(REQUEST_KIND, request_key, self._clock() + self._request_ttl)
        return LoginStart(str(dict(info["headers"])["Location"]), self._binding(request_key))

    def consume(
        self, provider: IdentityProvider, saml_response: str, relay_state: str | None, browser_binding: str | None
    ) -> VerifiedLogin:
        """Verify an ACS post (module docstring) from the browser that started the sign-in
        (``browser_binding`` from :meth:`begin_login`); :class:`LoginRefused` with the reason otherwise."""
        settings = provider.saml
        client = self._client(provider)  # refuses idp_certificate_expired first
        now = self._clock()
        document = self._decode_post(saml_response)
        endpoints = self.endpoints(provider)
        facts = inspect_response(
            parse(document),
            Expectations(settings.entity_id, endpoints.entity_id, endpoints.acs_url, now, self._skew, self._max_age),
        )
        request_key = self._request_key(provider, facts.in_response_to)
        if not self._one_time.exists(REQUEST_KIND, request_key, now):
            raise LoginRefused(LoginFailure.UNKNOWN_IN_RESPONSE_TO, "this response answers no sign-in we started")
        if browser_binding is None or not hmac.compare_digest(browser_binding, self._binding(request_key)):
            raise LoginRefused(LoginFailure.UNKNOWN_IN_RESPONSE_TO, "this browser did not start this sign-in")
        response = self._verify(client, saml_response, facts.in_response_to)
        forget_identity(client, response)
        assertion = response.assertion
        if assertion is None or assertion.id != facts.assertion_id:
            raise LoginRefused(LoginFailure.SIGNATURE_WRAPPING, "the verified assertion is not the one inspected")
        if not self._one_time.put(ASSERTION_KIND, f"{settings.entity_id}|{assertion.id}", facts.remember_until):
            raise LoginRefused(LoginFailure.REPLAYED, "this assertion was already used")
        if not self._one_time.use(REQUEST_KIND, request_key, now):
            raise LoginRefused(LoginFailure.REPLAYED, "this sign-in request was already answered")
        return self._verified_login(provider, settings, response, relay_state, now)

    # -- single logout --------------------------------------------------------------------------------
    def begin_logout(self, provider: IdentityProvider, logout_handle: str | None) -> str | None:
        """The IdP's SLO URL with a signed LogoutRequest, or None when the IdP has no SLO or no handle."""
        settings = provider.saml
        opened = self._open_handle(provider, logout_handle)
        if settings.slo_url is None or opened is None:
            return None
        name_id, session_index = opened
        client = self._client(provider)
        request_id, request = client.create_logout_request(
            settings.slo_url,
            settings.entity_id,
            name_id=saml_name_id(name_id),
            session_indexes=[session_index] if session_index else None,
            sign=False,
        )
        self._one_time.put(LOGOUT_KIND, self._request_key(provider, request_id), self._clock() + self._request_ttl)
        info = client.apply_binding(
            saml.BINDING_HTTP_REDIRECT, str(request), settings.slo_url, "/", sign=True, sigalg=RSA_SHA256
        )
        return str(dict(info["headers"])["Location"])

    def handle_slo(self, provider: IdentityProvider, query_string: str) -> SloOutcome:
        """An IdP's LogoutRequest (verified, answered) or LogoutResponse (to our own request) at the SLO URL."""
        settings = provider.saml
        params = {name: values[0] for name, values in parse_qs(query_string).items()}
        if "SAMLResponse" in params:
            return SloOutcome(None, None)  # our sessions were revoked when we sent the request
        if "SAMLRequest" not in params:
            raise LoginRefused(LoginFailure.MALFORMED_RESPONSE, "no SAMLRequest or SAMLResponse")
        certificates = valid_certificates(settings, self._clock())
        if not certificates:
            raise LoginRefused(LoginFailure.IDP_CERTIFICATE_EXPIRED, "every configured IdP certificate has expired")
        verify_redirect_signature(query_string, certificates)
        name_id = self._check_logout_request(provider, settings, params["SAMLRequest"])
        client = self._client(provider)
        parsed = client.parse_logout_request(params["SAMLRequest"], saml.BINDING_HTTP_REDIRECT)
        redirect = None
        if settings.slo_url is not None and parsed is not None:
            answer = client.create_logout_response(parsed.message, [saml.BINDING_HTTP_REDIRECT], sign=False)
            info = client.apply_binding(
                saml.BINDING_HTTP_REDIRECT,
                str(answer),
                settings.slo_url,
                params.get("RelayState", ""),
                response=True,
                sign=True,
                sigalg=RSA_SHA256,
            )
            redirect = str(dict(info["headers"])["Location"])
        return SloOutcome(self.session_ref(provider, name_id), redirect)

    def session_ref(self, provider: IdentityProvider, name_id: str) -> str:
        """The keyed digest sessions carry for IdP-initiated logout (never the NameID itself)."""
        label = f"{provider.partner_id}\x1f{provider.provider_id}\x1f{name_id}".encode()
        return hmac.new(self._ref_key, label, hashlib.sha256).hexdigest()

    # -- internals ------------------------------------------------------------------------------------
    def _client(self, provider: IdentityProvider) -> saml.Saml2Client:
        settings = provider.saml
        metadata = idp_metadata(settings, self._clock())
        key = (provider.partner_id, provider.provider_id, hashlib.sha256(metadata.encode()).hexdigest())
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = saml.Saml2Client(config=self._config(provider, metadata))
                self._clients = {k: v for k, v in self._clients.items() if k[:2] != key[:2]}
                self._clients[key] = client
        return client

    def _config(self, provider: IdentityProvider, metadata: str) -> saml.SPConfig:
        endpoints = self.endpoints(provider)
        config = saml.SPConfig()
        config.load(
            {
                "entityid": endpoints.entity_id,
                "key_file": str(self._key_file),
                "cert_file": str(self._cert_file),
                "xmlsec_binary": self._xmlsec,
                "signing_algorithm": RSA_SHA256,
                "digest_algorithm": SHA256_DIGEST,
                "accepted_time_diff": int(self._skew.total_seconds()),
                "allow_unknown_attributes": True,
                "only_use_keys_in_metadata": True,
                "metadata": {"inline": [metadata]},
                "service": {
                    "sp": {
                        "endpoints": {
                            "assertion_consumer_service": [(endpoints.acs_url, saml.BINDING_HTTP_POST)],
                            "single_logout_service": [(endpoints.slo_url, saml.BINDING_HTTP_REDIRECT)],
                        },
                        "name_id_format": [saml.NAMEID_FORMAT_EMAILADDRESS],
                        "authn_requests_signed": True,
                        "logout_requests_signed": True,
                        "logout_responses_signed": True,
                        "want_response_signed": False,
                        "want_assertions_signed": False,
                        "want_assertions_or_response_signed": True,
                        "allow_unsolicited": False,
                    }
                },
            }
        )
        return config

    @staticmethod
    def _decode_post(saml_response: str) -> bytes:
        if len(saml_response) > MAX_RESPONSE_BYTES:
            raise LoginRefused(LoginFailure.MALFORMED_RESPONSE, "the SAML response is too large")
        try:
            return base64.b64decode(saml_response, validate=False)
        except (binascii.Error, ValueError):
            raise LoginRefused(LoginFailure.MALFORMED_RESPONSE, "the SAML response is not base64") from None

    @staticmethod
    def _verify(client: saml.Saml2Client, saml_response: str, request_id: str) -> saml.AuthnResponse:
        """pysaml2's verification; its errors become reason codes (the inspection already named the rest)."""
        try:
            response = client.parse_authn_request_response(
                saml_response, saml.BINDING_HTTP_POST, outstanding={request_id: "/"}
            )
        except saml.StatusError:
            raise LoginRefused(LoginFailure.IDP_STATUS, "the identity provider refused the sign-in") from None
        except saml.UnsolicitedResponse:
            raise LoginRefused(
                LoginFailure.UNKNOWN_IN_RESPONSE_TO, "this response answers no sign-in we started"
            ) from None
        except (saml.SignatureError, saml.SigverError, saml.IncorrectlySigned, saml.MissingKey):
            raise LoginRefused(LoginFailure.SIGNATURE_INVALID, "the signature does not verify") from None
        except saml.VerificationError:
            raise LoginRefused(LoginFailure.EXPIRED, "the assertion's conditions are not met") from None
        except Exception as error:  # pysaml2 raises bare Exception / AttributeError for malformed input
            raise LoginRefused(LoginFailure.MALFORMED_RESPONSE, "the SAML response could not be verified") from error
        if response is None:
            raise LoginRefused(LoginFailure.MALFORMED_RESPONSE, "the SAML response could not be verified")
        return response

    def _verified_login(
        self,
        provider: IdentityProvider,
        settings: SamlSettings,
        response: saml.AuthnResponse,
        relay_state: str | None,
        now: datetime,
    ) -> VerifiedLogin:
        assertion = response.assertion
        attributes = verified_attributes(assertion)
        name_id = (response.name_id.text or "").strip() if response.name_id is not None else ""
        statements = assertion.authn_statement or []
        session_index = statements[0].session_index if statements else None

        def attribute(name: str) -> str | None:
            values = attributes.get(settings.attributes[name]) or []
            return values[0].strip() if values and values[0] and values[0].strip() else None

        identity = IdentityAssertion(
            partner_id=provider.partner_id,
            provider_id=provider.provider_id,
            issuer=settings.entity_id,
            subject=name_id,
            partner_user_id=attribute("partner_id") or "",
            email=attribute("email") or (name_id or None),
            first_name=attribute("first_name"),
            last_name=attribute("last_name"),
            role=attribute("role"),
            authenticated_at=now,
            session_ref=self.session_ref(provider, name_id),
        )
        return VerifiedLogin(identity, safe_relay(relay_state), self._seal_handle(provider, name_id, session_index))

    def _check_logout_request(self, provider: IdentityProvider, settings: SamlSettings, encoded: str) -> str:
        """The NameID of a valid, first-seen LogoutRequest from the IdP (its signature was verified)."""
        try:
            document = zlib.decompress(base64.b64decode(encoded), -15)
            root = SafeElementTree.fromstring(document)
        except (binascii.Error, ValueError, zlib.error, SafeElementTree.ParseError):
            raise LoginRefused(LoginFailure.MALFORMED_RESPONSE, "the logout request cannot be read") from None
        if root.tag != f"{SAMLP}LogoutRequest" or (root.findtext(f"{SAML}Issuer") or "").strip() != settings.entity_id:
            raise LoginRefused(LoginFailure.ISSUER_MISMATCH, "the logout request comes from another provider")
        if root.get("Destination") not in (None, self.endpoints(provider).slo_url):
            raise LoginRefused(LoginFailure.DESTINATION_MISMATCH, "the logout request is addressed elsewhere")
        not_after = root.get("NotOnOrAfter")
        now = self._clock()
        if not_after is not None and datetime.fromisoformat(not_after) <= now - self._skew:
            raise LoginRefused(LoginFailure.EXPIRED, "the logout request has expired")
        request_id, name_id = root.get("ID") or "", (root.findtext(f"{SAML}NameID") or "").strip()
        if not request_id or not name_id:
            raise LoginRefused(LoginFailure.MALFORMED_RESPONSE, "the logout request has no ID or NameID")
        if not self._one_time.put(LOGOUT_KIND, f"{settings.entity_id}|{request_id}", now + self._request_ttl):
            raise LoginRefused(LoginFailure.REPLAYED, "this logout request was already handled")
        return name_id

    def _binding(self, request_key: str) -> str:
        return hmac.new(self._binding_key, request_key.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _request_key(provider: IdentityProvider, request_id: str) -> str:
        return f"{provider.partner_id}|{provider.provider_id}|{request_id}"

    def _seal_handle(self, provider: IdentityProvider, name_id: str, session_index: str | None) -> str:
        nonce = os.urandom(12)
        plaintext = json.dumps({"n": name_id, "s": session_index}).encode()
        aad = f"{provider.partner_id}\x1f{provider.provider_id}".encode()
        return base64.urlsafe_b64encode(nonce + self._handle_aead.encrypt(nonce, plaintext, aad)).decode().rstrip("=")

    def _open_handle(self, provider: IdentityProvider, handle: str | None) -> tuple[str, str | None] | None:
        if not handle:
            return None
        try:
            raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
            aad = f"{provider.partner_id}\x1f{provider.provider_id}".encode()
            opened: Mapping[str, Any] = json.loads(self._handle_aead.decrypt(raw[:12], raw[12:], aad))
        except (binascii.Error, ValueError, InvalidTag):
            return None
        name_id, session_index = opened.get("n"), opened.get("s")
        if not isinstance(name_id, str) or not name_id:
            return None
        return name_id, session_index if isinstance(session_index, str) else None


def forget_identity(client: saml.Saml2Client, response: saml.AuthnResponse) -> None:
    """pysaml2 keeps every parsed identity (NameID, attributes) in the client's in-memory cache; we keep no
    personal data in memory beyond the request, and the cache would grow with every sign-in."""
    name_id = response.name_id
    if name_id is not None:
        with contextlib.suppress(KeyError):
            client.users.remove_person(name_id)


def verified_attributes(assertion: Any) -> dict[str, list[str]]:
    """Attribute name -> values of a verified assertion, by their raw ``Name`` (no attribute converters)."""
    found: dict[str, list[str]] = {}
    for statement in assertion.attribute_statement or []:
        for item in statement.attribute or []:
            found.setdefault(item.name, []).extend(value.text or "" for value in item.attribute_value or [])
    return found


def saml_name_id(value: str) -> Any:
    """A NameID element in the email format."""
    return saml.NameID(format=saml.NAMEID_FORMAT_EMAILADDRESS, text=value)
