"""What portal tests share: a partner with a member, its ``sso_token``, its registered portal origins."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass

import httpx
import jwt

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from api.security.credentials import PartnerCredentials
from ledger_core.members.member_record import EligibilityRecord
from support.http_server import LiveServer

AUDIENCE = "https://fairunderwriting.com/portal"
SAMESITE_NONE = {"LEDGER_SSO_COOKIE_SAMESITE": "none"}
"""The portal inside a cross-site frame needs SameSite=None session cookies (docs/portal.md)."""


@dataclass(frozen=True)
class PortalPartner:
    credentials: PartnerCredentials
    member_ids: tuple[str, ...]

    @property
    def partner_id(self) -> str:
        return self.credentials.partner_id


def portal_partner(server: LiveServer, origins: list[str], members: int = 1) -> PortalPartner:
    """A new partner with ``members`` eligible members and ``origins`` registered for its portal."""
    credentials = server.create_partner(f"p_{uuid.uuid4().hex[:10]}")
    ids = tuple(f"M-{uuid.uuid4().hex[:8]}" for _ in range(members))
    with open_ledger(StorageConfig(server.data_dir, server.database_url)) as ledger:
        for pmid in ids:
            ledger.membership.upsert(
                credentials.partner_id,
                EligibilityRecord(
                    partner_member_id=pmid,
                    email=f"zebulon.{pmid.lower()}@quixoteworth.example",
                    first_name="Zebulon",
                    last_name="Quixoteworth",
                    date_of_birth="1979-11-23",
                    state="IA",
                    policy_type="Life",
                ),
            )
        if origins:
            ledger.embedding.set_origins(credentials.partner_id, origins)
    return PortalPartner(credentials, ids)


def member_token(credentials: PartnerCredentials, member_id: str, kind: str = "member") -> str:
    """A partner backend's single-use ``sso_token`` for one of its members (or, ``kind="staff"``, staff)."""
    now = int(time.time())
    claims = {
        "iss": credentials.partner_id,
        "aud": AUDIENCE,
        "sub": member_id,
        "kind": kind,
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(24),
    }
    return jwt.encode(
        claims, credentials.api_secret, algorithm="HS256", headers={"typ": "sso+jwt", "kid": credentials.api_key}
    )


def session_cookies(answer: httpx.Response) -> dict[str, str]:
    """The cookies an answer sets (httpx keeps ``Secure`` cookies out of plain-http requests: tests pass them)."""
    jar: dict[str, str] = {}
    for header in answer.headers.get_list("set-cookie"):  # http.cookies (3.11) stops at "Partitioned"
        name, _, value = header.split(";", 1)[0].partition("=")
        jar[name.strip()] = value.strip()
    return jar


def ops_json(body: object) -> bytes:
    return json.dumps(body).encode()
