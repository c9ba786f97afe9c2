"""The login a browser started: ``state``, ``nonce`` and PKCE verifier, sealed into that browser's cookie.

``state`` binds the callback to the browser that started the login (RFC 6749 section 10.12, RFC 9700
section 2.1): the values live only in an HttpOnly cookie sealed with AES-256-GCM (AAD = the partner id),
so a callback arriving in another browser, or with a ``state`` other than the sealed one, is refused.
The ``state`` is also spent once in the shared replay cache (every worker sees it), so a callback
replayed with the same cookie is refused too. The key is derived from the deployment's master key
(HKDF-SHA256, its own ``info``), so no other use of the master key can open these cookies.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from adapters.oidc.errors import OidcCheck, OidcLoginRefused

_NONCE = 12
_INFO = b"proveniq-ledger oidc pending-login cookie v1"


def derive_key(master_key: bytes, info: bytes = _INFO) -> bytes:
    """A 32-byte key for one purpose (``info``) derived from the master key (RFC 5869)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key)


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """One started login: what the callback must find again (RFC 7636 verifier, OIDC nonce, state)."""

    partner_id: str
    state: str
    nonce: str
    code_verifier: str
    started_at: float
    return_to: str = "/"

    @classmethod
    def start(cls, partner_id: str, now: float, return_to: str = "/") -> PendingLogin:
        """Fresh random values: 256-bit state and nonce, a 86-character verifier (RFC 7636 section 4.1)."""
        return cls(
            partner_id=partner_id,
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),
            started_at=now,
            return_to=return_to,
        )


class PendingLoginSealer:
    """Seals a :class:`PendingLogin` into a cookie value and opens it again (or refuses)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, pending: PendingLogin) -> str:
        body = orjson.dumps(
            [pending.state, pending.nonce, pending.code_verifier, pending.started_at, pending.return_to]
        )
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, body, pending.partner_id.encode())
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def open(self, partner_id: str, cookie: str | None) -> PendingLogin:
        """The login sealed in ``cookie`` for ``partner_id``; :attr:`OidcCheck.LOGIN_NOT_STARTED` otherwise."""
        if not cookie:
            raise OidcLoginRefused(OidcCheck.LOGIN_NOT_STARTED, partner_id, "no pending-login cookie")
        try:
            raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
            body = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], partner_id.encode())
            state, nonce, verifier, started_at, return_to = orjson.loads(body)
        except (InvalidTag, ValueError, TypeError) as error:
            raise OidcLoginRefused(OidcCheck.LOGIN_NOT_STARTED, partner_id, "cookie does not open") from error
        return PendingLogin(partner_id, str(state), str(nonce), str(verifier), float(started_at), str(return_to))
