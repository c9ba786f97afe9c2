"""Every parser that faces the outside rejects bad input only with its documented error type (issue 18 item 14b).

One test, run once per entry of :data:`PARSERS`: arbitrary bytes and mutated valid inputs (see
:mod:`support.fuzzing`) either parse or raise the entry's documented errors, the ones the HTTP layer
renders in the error envelope (``ApiError``, ``OAuthError``, the ``AuthenticationError`` family), the
CLI renders as one ``INVALID:`` line (``ProofError``), or a webhook receiver catches
(``WebhookVerificationError``). Anything else (``RecursionError``, ``OverflowError``, ``IndexError``...)
fails the test with the shrunk input. A new outside-facing parser (feed files, SSO responses) is one
more :class:`~support.fuzzing.Parser` in the list.

Defects found this way are kept as ``@example`` regressions on the test below and named in
:data:`REGRESSIONS`.
"""

from __future__ import annotations

import base64
import importlib
import json
import pkgutil

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fuzzing import Parser, check, inputs
from support.signed_log import CHECKPOINTS, NOW, SIGNER, TREE, VKEY, SignedTree

from api.client.schemas import claims as claim_schemas
from api.client.schemas import common as common_schemas
from api.client.schemas import members as member_schemas
from api.client.schemas import webhooks as webhook_schemas
from api.http import routes
from api.http.errors import ApiError
from api.http.openapi_examples import catalogue
from api.http.proxies import TrustedProxies
from api.http.strict_json import check_json
from api.http.uploads import digester_for
from api.security import AuthenticationError
from api.security.enrollment_tokens import EnrollmentTokenInvalid, EnrollmentTokens
from api.security.tokens import OAuthError, TokenIssuer, TokenValidator, generate_signing_key, parse_token_request
from api.security.verifier import parse_request_timestamp
from ledger_core.engine.auditing import check_bundle_envelopes, verify_history
from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.errors import InvalidCommand, MalformedEntry
from ledger_core.partners.access import check_ip_allowlist
from proofs import ProofError, parse_body
from proofs.bundle import (
    HISTORY_FORMAT,
    parse_bundle,
    parse_proof_document,
    verify_bundle,
    verify_proof,
)
from proofs.note import open_note, parse_skey, parse_vkey, sign_note
from proofs.webhooks import WebhookVerificationError, signed_headers, verify_signature

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode("ascii")


# -- the parsers, as the outside reaches them ---------------------------------------------------------------
def open_signed_note(data: bytes) -> None:
    open_note(data, [SIGNER.verifier()])


def read_checkpoint_body(data: bytes) -> None:
    parse_body(data.decode("utf-8", "replace"))


def read_keys(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    parse_vkey(text)
    parse_skey(text)


def verify_proof_document(data: bytes) -> None:
    """What ``ledger proof verify`` does with PROOF.json once the checkpoints verified."""
    verify_proof(parse_proof_document(data), CHECKPOINTS)


def verify_audit_bundle(data: bytes) -> None:
    """What ``ledger audit verify`` does with FILE: either a partner bundle or a history proof."""
    bundle = parse_bundle(data)
    if bundle.format == HISTORY_FORMAT:
        verify_history(bundle, [VKEY])
    else:
        verify_bundle(bundle, [VKEY])
        check_bundle_envelopes(bundle)


def check_envelope_of(entry: bytes) -> None:
    """An entry of arbitrary bytes, validly proved and signed: only the envelope checks stand in the way."""
    tree = SignedTree([entry, *TREE.entries[1:]])
    bundle = parse_bundle(tree.bundle())
    verify_bundle(bundle, [VKEY])
    check_bundle_envelopes(bundle)
    verify_history(parse_bundle(tree.bundle(HISTORY_FORMAT)), [VKEY])


def _header_lines(data: bytes) -> list[tuple[str, str]]:
    """Header lines ``name: value`` as an ASGI server hands them over (Latin-1)."""
    pairs = []
    for line in data.decode("latin-1").split("\n"):
        name, _, value = line.partition(":")
        pairs.append((name.strip(), value.strip()))
    return pairs


def verify_webhook_headers(data: bytes) -> None:
    verify_signature(_header_lines(data), b'{"type":"claim.sealed"}', WEBHOOK_SECRET, now=NOW.timestamp())


def _request_structs() -> list[type[msgspec.Struct]]:
    """Every msgspec shape of the API (the SDK's schemas and the routes' own): request bodies among them."""
    modules = [claim_schemas, common_schemas, member_schemas, webhook_schemas]
    modules += [importlib.import_module(f"api.http.routes.{m.name}") for m in pkgutil.iter_modules(routes.__path__)]
    found = {
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, msgspec.Struct) and value.__module__ == module.__name__
    }
    return sorted(found, key=lambda struct: (struct.__module__, struct.__name__))


_REQUEST_STRUCTS = _request_structs()


def decode_request_body(data: bytes) -> None:
    """The admission check every JSON body passes, then the msgspec decoding of each request shape."""
    check_json(data)
    for struct in _REQUEST_STRUCTS:
        try:
            msgspec.json.decode(data, type=struct, strict=False)
        except msgspec.ValidationError:
            continue


_ISSUER = TokenIssuer(generate_signing_key(), issuer="https://ledger.example", audience="https://ledger.example")
_VALIDATOR = TokenValidator(_ISSUER.jwks(), issuer="https://ledger.example", audience="https://ledger.example")
_ENROLLMENT = EnrollmentTokens(b"s" * 32, issuer="ledger", base_url="https://enroll.example", ttl=NOW - NOW)


def validate_bearer_token(data: bytes) -> None:
    _VALIDATOR.validate(data.decode("latin-1"), NOW)


def parse_token_requests(data: bytes) -> None:
    """The body as JSON, then as a form, then the bytes as an ``Authorization`` header (Latin-1)."""
    for content_type, body, authorization in (
        ("application/json", data, None),
        ("application/x-www-form-urlencoded", data, None),
        (None, b"grant_type=client_credentials", data.decode("latin-1")),
    ):
        try:
            parse_token_request(content_type, body, authorization)
        except OAuthError:
            continue


def verify_enrollment_token(data: bytes) -> None:
    _ENROLLMENT.verify(data.decode("latin-1"), NOW)


_PROXIES = TrustedProxies.of(["10.0.0.0/8", "2001:db8::/32"])


def resolve_forwarded_for(data: bytes) -> None:
    """``X-Forwarded-For`` from a trusted proxy: any value yields an address (no rejection at all)."""
    _PROXIES.client_of("10.0.0.1", data.decode("latin-1").split("\n"))


def read_request_timestamp(data: bytes) -> None:
    parse_request_timestamp(data.decode("latin-1"))


def read_ip_allowlist(data: bytes) -> None:
    check_ip_allowlist(data.decode("utf-8", "replace").split("\n"))


_BOUNDARY = "fuzzboundary"
_MULTIPART = (
    f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
    f"Content-Type: application/pdf\r\n\r\n%PDF-1.7 body\r\n"
    f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{{"a": "b"}}\r\n'
    f"--{_BOUNDARY}--\r\n"
).encode()


def digest_upload(data: bytes) -> None:
    """A document upload's body (multipart with a fixed boundary), then its Content-Type header."""
    for content_type, body in (
        (f"multipart/form-data; boundary={_BOUNDARY}", data),
        (data.decode("latin-1"), _MULTIPART),
    ):
        try:
            digester = digester_for(content_type)
            digester.feed(body)
            digester.finish()
        except ApiError:
            continue


def _request_bodies() -> list[bytes]:
    schemas = catalogue()["schemas"]
    return [json.dumps(entry["example"]).encode() for entry in schemas.values() if "example" in entry][:40]


_TOKEN = _ISSUER.issue(partner_id="p", client_id="c", scopes=["claims:write"], now=NOW).access_token
_WEBHOOK_HEADERS = signed_headers(
    [base64.b64decode(WEBHOOK_SECRET[6:])], "msg_1", "claim.sealed", int(NOW.timestamp()), b'{"type":"claim.sealed"}'
)

PARSERS = [
    Parser("strict JSON + request schemas", decode_request_body, (ApiError, msgspec.DecodeError), _request_bodies()),
    Parser(
        "signed note", open_signed_note, (ProofError,), [TREE.notes[5].encode(), sign_note("hello\n", SIGNER).encode()]
    ),
    Parser("checkpoint body", read_checkpoint_body, (ProofError,), [TREE.notes[3].encode()]),
    Parser("verifier and signer keys", read_keys, (ProofError,), [VKEY.encode()]),
    Parser("proof document", verify_proof_document, (ProofError,), [TREE.inclusion(1), TREE.inclusion(4)]),
    Parser("audit bundle", verify_audit_bundle, (ProofError,), [TREE.bundle(), TREE.bundle(HISTORY_FORMAT)]),
    Parser("ledger envelope", decode_entry, (MalformedEntry,), TREE.entries),
    Parser("envelope inside a valid bundle", check_envelope_of, (ProofError,), TREE.entries),
    Parser(
        "webhook signature headers",
        verify_webhook_headers,
        (WebhookVerificationError,),
        ["\n".join(f"{k}: {v}" for k, v in _WEBHOOK_HEADERS.items()).encode("latin-1")],
    ),
    Parser("bearer token", validate_bearer_token, (AuthenticationError,), [_TOKEN.encode()]),
    Parser(
        "token request",
        parse_token_requests,
        (OAuthError,),
        [b"grant_type=client_credentials&client_id=a&client_secret=b", b'{"grant_type":"client_credentials"}'],
    ),
    Parser(
        "enrollment token",
        verify_enrollment_token,
        (EnrollmentTokenInvalid,),
        [_ENROLLMENT.issue("p", "m", NOW).encode()],
    ),
]

PARSERS += [
    Parser("X-Forwarded-For", resolve_forwarded_for, (), [b"203.0.113.9, 10.0.0.2", b"[2001:db8::1]:443"]),
    Parser("X-Timestamp", read_request_timestamp, (ValueError,), [b"2026-12-06T12:00:00.123456789Z"]),
    Parser("IP allowlist", read_ip_allowlist, (InvalidCommand,), [b"203.0.113.0/24\n2001:db8::/48\n198.51.100.7"]),
    Parser("document upload", digest_upload, (ApiError,), [_MULTIPART]),
]

REGRESSIONS = [
    # (parser, input, what it raised before the fix)
    ("proof document", b"[" * 5000, "RecursionError from json.loads: `ledger proof verify` printed a traceback"),
    ("audit bundle", b"[" * 5000, "RecursionError from json.loads: `ledger audit verify` printed a traceback"),
    ("token request", b"[" * 5000, "RecursionError from a JSON body given to parse_token_request"),
    ("token request", "Basic \u00e9\u00e9".encode("latin-1"), "ValueError: non-ASCII Basic credentials"),
    ("webhook signature headers", "webhook-timestamp: \u00b2".encode("latin-1"), "ValueError: int('\u00b2')"),
    ("webhook signature headers", b"webhook-timestamp: " + b"9" * 5000, "ValueError: int() digit limit"),
    ("webhook signature headers", b"webhook-timestamp: " + b"9" * 400, "OverflowError: int too large for float"),
]
BY_NAME = {parser.name: parser for parser in PARSERS}


@pytest.mark.parametrize(("name", "data", "defect"), REGRESSIONS, ids=[f"{n}: {d}" for n, _, d in REGRESSIONS])
def test_defects_found_by_fuzzing_stay_fixed(name: str, data: bytes, defect: str) -> None:
    """Each input once raised an undocumented error (``defect``); now only documented rejections escape."""
    check(BY_NAME[name], data)


@pytest.mark.parametrize("parser", PARSERS, ids=str)
@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_outside_input_is_parsed_or_rejected_with_a_documented_error(parser: Parser, data: st.DataObject) -> None:
    check(parser, data.draw(inputs(parser.seeds), label="input"))
