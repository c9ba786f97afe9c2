"""Single sign-on costs: session checks and rotations on the shared store, and SAML ACS verification.

Cases, each in a fresh spawned process on a fresh database (a temp SQLite file or a new PostgreSQL schema):

1. **sessions** (per backend): ``SessionService.open`` of N sessions (one insert of the family and two
   tokens), then ``authenticate`` of random access tokens (the lookup every browser request makes) and
   ``refresh`` (rotation: mark used + two inserts); one caller. Per-call latency p50/p99 and calls/s.
2. **acs** (SQLite): ``SamlServiceProvider.consume`` of R responses signed by a pysaml2 IdP (RSA-2048,
   SHA-256, assertion signed): XML inspection, the xmlsec1 subprocess that verifies the signature, the
   replay and request bookkeeping. Responses are made beforehand (not measured).

Usage: ``python benchmarks/sso.py [--quick] [--sessions N] [--responses R] [--backends sqlite,postgresql]``.
A table goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import base64
import random
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from _common import (
    base_parser,
    emit_json,
    fresh_postgres_schema,
    fresh_sqlite_file,
    machine_info,
    parse_backends,
    print_table,
    run_in_subprocess,
    utc_now,
)

from adapters.ports import ManagedSsoStore
from ledger_core.accounts.identity import SignedIn, StaffRole, UserKind
from ledger_core.accounts.sessions import SessionService

URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"


def _clock() -> datetime:
    return datetime.now(UTC)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        "per_s": round(len(ordered) / sum(ordered), 1),
    }


def _timed(calls: list[Any]) -> list[float]:
    samples = []
    for call in calls:
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def sessions_case(backend: str, postgres_url: str, count: int) -> dict[str, Any]:
    """Open, authenticate and refresh sessions on one backend's store."""
    if backend == "sqlite":
        from adapters.sqlite.sessions import SQLiteSsoStore

        with fresh_sqlite_file() as path:
            return _sessions(SQLiteSsoStore(path), count)
    from adapters.postgres.sessions import PostgresSsoStore

    with fresh_postgres_schema(postgres_url, "bench_sso") as schema:
        return _sessions(PostgresSsoStore(schema.url), count)


def _sessions(store: ManagedSsoStore, count: int) -> dict[str, Any]:
    service = SessionService(store, _clock)
    signed_in = [
        SignedIn(f"acct-{i}", "bench", UserKind.STAFF, f"u-{i}", StaffRole.USER, "okta", False, (), ())
        for i in range(count)
    ]
    issued: list[Any] = []
    opened = _timed([lambda s=s: issued.append(service.open(s)) for s in signed_in])
    picks = [random.choice(issued) for _ in range(count)]
    checked = _timed([lambda p=p: service.authenticate(p.access_token) for p in picks])
    rotated = _timed([lambda i=i: service.refresh(i.refresh_token, i.csrf_token) for i in issued])
    store.close()
    return {"open": _percentiles(opened), "authenticate": _percentiles(checked), "refresh": _percentiles(rotated)}


def acs_case(responses: int) -> dict[str, Any]:
    """Verify ``responses`` signed SAML responses at the ACS."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="CFB has been moved")
        from saml2 import BINDING_HTTP_REDIRECT as REDIRECT
        from saml2.config import IdPConfig
        from saml2.saml import NAMEID_FORMAT_EMAILADDRESS as EMAIL
        from saml2.saml import NameID
        from saml2.server import Server
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from adapters.files.saml_sp_key import sp_key_pair
    from adapters.saml.service_provider import SamlServiceProvider
    from adapters.sqlite.sessions import SQLiteSsoStore
    from ledger_core.accounts.identity import IdentityProviderKind
    from ledger_core.accounts.providers import IdentityProvider, SamlSettings

    with tempfile.TemporaryDirectory(prefix="bench-sso-") as name:
        directory = Path(name)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench-idp")])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        (directory / "idp.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (directory / "idp.crt").write_text(pem)
        settings = SamlSettings.parse(
            {"entity_id": "https://idp.bench/metadata", "sso_url": "https://idp.bench/sso", "certificates": [pem]}
        )
        provider = IdentityProvider(
            "bench", "okta", IdentityProviderKind.SAML, UserKind.STAFF, StaffRole.USER, settings.to_json()
        )
        store = SQLiteSsoStore(directory / "sso.db")
        key_file, cert_file = sp_key_pair(directory)
        sp = SamlServiceProvider(
            base_url="https://sp.bench", key_file=key_file, cert_file=cert_file, one_time=store, clock=_clock,
            skew=timedelta(seconds=60), request_ttl=timedelta(minutes=10), max_age=timedelta(minutes=10),
            secret=b"b" * 32,
        )  # fmt: skip
        config = IdPConfig()
        config.load(
            {
                "entityid": settings.entity_id, "key_file": str(directory / "idp.key"),
                "cert_file": str(directory / "idp.crt"), "xmlsec_binary": "/usr/bin/xmlsec1",
                "signing_algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                "digest_algorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
                "metadata": {"inline": [sp.metadata(provider)]},
                "service": {"idp": {"endpoints": {"single_sign_on_service": [(settings.sso_url, REDIRECT)]},
                                    "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": URI}}}},
            }
        )  # fmt: skip
        idp = Server(config=config)
        endpoints = sp.endpoints(provider)
        made: list[str] = []
        bindings: list[str] = []
        for index in range(responses):
            start = sp.begin_login(provider, "/")  # a real AuthnRequest, as a browser's login would make
            query = parse_qs(urlsplit(start.location).query)
            request_id = idp.parse_authn_request(query["SAMLRequest"][0], REDIRECT).message.id
            bindings.append(start.browser_binding)
            document = idp.create_authn_response(
                {"partnerId": [f"E-{index}"]}, in_response_to=request_id, destination=endpoints.acs_url,
                sp_entity_id=endpoints.entity_id, name_id=NameID(format=EMAIL, text=f"u{index}@bench"),
                authn={"class_ref": PASSWORD}, sign_assertion=True, sign_response=False,
                sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                digest_alg="http://www.w3.org/2001/04/xmlenc#sha256",
            )  # fmt: skip
            made.append(base64.b64encode(str(document).encode()).decode())
        samples = _timed(
            [lambda d=d, b=b: sp.consume(provider, d, "/", b) for d, b in zip(made, bindings, strict=True)]
        )
        store.close()
        return {"consume": _percentiles(samples)}


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--sessions", type=int, default=None)
    parser.add_argument("--responses", type=int, default=None)
    args = parser.parse_args()
    count = args.sessions or (300 if args.quick else 3000)
    responses = args.responses or (30 if args.quick else 200)
    results: dict[str, Any] = {}
    rows = []
    for backend in parse_backends(args.backends):
        found = run_in_subprocess(sessions_case, backend, args.postgres_url, count)
        results[backend] = found
        for name, figures in found.items():
            rows.append(
                [f"{backend} session {name}", str(figures["p50_ms"]), str(figures["p99_ms"]), str(figures["per_s"])]
            )
    results["acs"] = run_in_subprocess(acs_case, responses)
    figures = results["acs"]["consume"]
    rows.append(["SAML ACS consume (sqlite)", str(figures["p50_ms"]), str(figures["p99_ms"]), str(figures["per_s"])])
    print_table(["case", "p50 ms", "p99 ms", "per s"], rows, title="single sign-on")
    emit_json(
        {"benchmark": "sso", "at": utc_now(), "machine": machine_info(args.postgres_url), "sessions": count,
         "responses": responses, "results": results},
        args.json_out,
    )  # fmt: skip


if __name__ == "__main__":
    main()
