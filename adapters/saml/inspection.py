"""Checks on a SAML response's XML that pysaml2 leaves out or answers vaguely, each with its reason code.

These run on the decoded document before pysaml2 verifies the signature, and only ever refuse: a response
that passes them is still verified by pysaml2 against the IdP's certificate from metadata. Together they
make the verified assertion the one checked here:

* **Structure** (signature wrapping, XSW): exactly one ``Assertion`` in the whole document, a direct child
  of the ``Response``; every ``ds:Signature`` is a direct child of the ``Response`` or the ``Assertion``,
  has one ``Reference`` whose URI is ``#`` + its parent's ``ID``, and carries no ``ds:Object``; IDs are
  unique (SAML core section 5.4.2, and the XSW attacks of Somorovsky et al., USENIX Security 2012).
* **Signed**: a signature on the response or on the assertion (SAML core 5, profiles 4.1.3.5).
* **Issuer, Destination, Audience, Recipient** (profiles 4.1.4.2-4.1.4.3; bindings 3.5.5.2): equal to the
  configured IdP entity id, our ACS URL (Destination required), our SP entity id, our ACS URL.
* **Time**: ``NotBefore`` / ``NotOnOrAfter`` of the conditions and of the bearer confirmation, and an
  ``IssueInstant`` no older than the configured maximum age (seed 001 §1.4: 5-10 minutes), within the skew.
* **InResponseTo**: present (no unsolicited response) and the same on the confirmation data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from ledger_core.accounts.errors import LoginFailure, LoginRefused

SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SIGNATURE_ALGORITHMS = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    }
)
DIGEST_ALGORITHMS = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    """What the document says, once every check passed."""

    in_response_to: str
    assertion_id: str
    remember_until: datetime
    """How long the assertion id must be remembered against replay (its lifetime plus the skew)."""


@dataclass(frozen=True, slots=True)
class Expectations:
    idp_entity_id: str
    sp_entity_id: str
    acs_url: str
    now: datetime
    skew: timedelta
    max_age: timedelta


def _refuse(reason: LoginFailure, message: str) -> LoginRefused:
    return LoginRefused(reason, message)


def _time(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _refuse(LoginFailure.MALFORMED_RESPONSE, f"{field} is not a timestamp") from None
    if moment.tzinfo is None:
        raise _refuse(LoginFailure.MALFORMED_RESPONSE, f"{field} has no time zone")
    return moment


def parse(document: bytes) -> Element:
    """The response element of ``document`` (no DTD, no entities: defusedxml)."""
    try:
        root: Element = SafeElementTree.fromstring(document)
    except (SafeElementTree.ParseError, DefusedXmlException, ValueError):
        raise _refuse(LoginFailure.MALFORMED_RESPONSE, "the SAML response is not well-formed XML") from None
    if root.tag != f"{SAMLP}Response":
        raise _refuse(LoginFailure.MALFORMED_RESPONSE, "the document is not a SAML Response")
    return root


def inspect_response(root: Element, expected: Expectations) -> ResponseFacts:
    """Every check of the module docstring, in order; :class:`LoginRefused` with the first failing reason."""
    _check_status(root)
    assertion = _check_structure(root)
    _check_signed(root, assertion)
    _check_parties(root, assertion, expected)
    remember_until = _check_times(assertion, expected)
    in_response_to = root.get("InResponseTo")
    if not in_response_to:
        raise _refuse(LoginFailure.UNKNOWN_IN_RESPONSE_TO, "unsolicited responses are not accepted")
    for data in _confirmations(assertion):
        if data.get("InResponseTo") not in (None, in_response_to):
            raise _refuse(LoginFailure.UNKNOWN_IN_RESPONSE_TO, "the confirmation answers another request")
    return ResponseFacts(in_response_to, assertion.get("ID") or "", remember_until)


def _check_status(root: Element) -> None:
    code = root.find(f"{SAMLP}Status/{SAMLP}StatusCode")
    if code is None or code.get("Value") != SUCCESS:
        raise _refuse(LoginFailure.IDP_STATUS, "the identity provider answered with an error status")


def _check_structure(root: Element) -> Element:
    assertions = [
        element for element in root.iter() if element.tag in {f"{SAML}Assertion", f"{SAML}EncryptedAssertion"}
    ]
    direct = [child for child in root if child.tag == f"{SAML}Assertion"]
    if len(assertions) != 1 or len(direct) != 1:
        raise _refuse(LoginFailure.SIGNATURE_WRAPPING, "the response must hold exactly one assertion")
    assertion = direct[0]
    ids = Counter(element.get("ID") for element in root.iter() if element.get("ID") is not None)
    if any(count > 1 for count in ids.values()) or not assertion.get("ID"):
        raise _refuse(LoginFailure.SIGNATURE_WRAPPING, "element IDs must be present and unique")
    parents = {child: parent for parent in root.iter() for child in parent}
    for signature in root.iter(f"{DS}Signature"):
        parent = parents.get(signature)
        if parent is not root and parent is not assertion:
            raise _refuse(LoginFailure.SIGNATURE_WRAPPING, "a signature sits outside the response and assertion")
        references = signature.findall(f"{DS}SignedInfo/{DS}Reference")
        if len(references) != 1 or references[0].get("URI") != f"#{parent.get('ID')}":
            raise _refuse(LoginFailure.SIGNATURE_WRAPPING, "a signature does not cover the element that holds it")
        if signature.find(f"{DS}Object") is not None:
            raise _refuse(LoginFailure.SIGNATURE_WRAPPING, "a signature carries an Object")
        method = signature.find(f"{DS}SignedInfo/{DS}SignatureMethod")
        digest = references[0].find(f"{DS}DigestMethod")
        if (
            method is None
            or method.get("Algorithm") not in SIGNATURE_ALGORITHMS
            or digest is None
            or digest.get("Algorithm") not in DIGEST_ALGORITHMS
        ):
            raise _refuse(LoginFailure.ALGORITHM_REFUSED, "signatures must use SHA-256 or stronger (no SHA-1)")
    return assertion


def _check_signed(root: Element, assertion: Element) -> None:
    if root.find(f"{DS}Signature") is None and assertion.find(f"{DS}Signature") is None:
        raise _refuse(LoginFailure.UNSIGNED, "neither the response nor the assertion is signed")


def _check_parties(root: Element, assertion: Element, expected: Expectations) -> None:
    issuers = [assertion.findtext(f"{SAML}Issuer")]
    if root.find(f"{SAML}Issuer") is not None:
        issuers.append(root.findtext(f"{SAML}Issuer"))
    if any((issuer or "").strip() != expected.idp_entity_id for issuer in issuers):
        raise _refuse(LoginFailure.ISSUER_MISMATCH, "the response comes from another identity provider")
    if root.get("Destination") != expected.acs_url:
        raise _refuse(LoginFailure.DESTINATION_MISMATCH, "the response is addressed to another endpoint")
    restrictions = assertion.findall(f"{SAML}Conditions/{SAML}AudienceRestriction")
    if not restrictions or any(
        expected.sp_entity_id not in {(a.text or "").strip() for a in r.findall(f"{SAML}Audience")}
        for r in restrictions
    ):
        raise _refuse(LoginFailure.AUDIENCE_MISMATCH, "the assertion is meant for another service provider")
    confirmations = list(_confirmations(assertion))
    if not confirmations or any(data.get("Recipient") != expected.acs_url for data in confirmations):
        raise _refuse(LoginFailure.RECIPIENT_MISMATCH, "the assertion names another recipient")


def _confirmations(assertion: Element) -> Iterable[Element]:
    for confirmation in assertion.findall(f"{SAML}Subject/{SAML}SubjectConfirmation"):
        if confirmation.get("Method") == BEARER:
            yield from confirmation.findall(f"{SAML}SubjectConfirmationData")


def _check_times(assertion: Element, expected: Expectations) -> datetime:
    now, skew = expected.now, expected.skew
    conditions = assertion.find(f"{SAML}Conditions")
    issued = _time(assertion.get("IssueInstant"), "IssueInstant")
    if issued is None:
        raise _refuse(LoginFailure.MALFORMED_RESPONSE, "the assertion has no IssueInstant")
    not_before = _time(None if conditions is None else conditions.get("NotBefore"), "NotBefore")
    ends = [issued + expected.max_age]
    ends += [
        moment
        for moment in (
            _time(None if conditions is None else conditions.get("NotOnOrAfter"), "NotOnOrAfter"),
            *(_time(data.get("NotOnOrAfter"), "NotOnOrAfter") for data in _confirmations(assertion)),
        )
        if moment is not None
    ]
    if issued > now + skew or (not_before is not None and not_before > now + skew):
        raise _refuse(LoginFailure.NOT_YET_VALID, "the assertion is not valid yet")
    end = min(ends)
    if end <= now - skew:
        raise _refuse(LoginFailure.EXPIRED, "the assertion has expired")
    return end + skew
