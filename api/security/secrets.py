"""How partner credentials are kept: API secrets are derived, OAuth client secrets are hashed.

**API secrets** (``apiSecret``, the HMAC key of request signatures) must be recomputable by the server,
so they cannot be stored as a hash alone. They are derived from the deployment secret and the key id::

    apiSecret = base64url_nopad(HMAC-SHA256(deployment_secret, "api-secret" 0x1F key_id))

Nothing is stored but the deployment secret; the Partner aggregate records SHA-256 of the issued secret
(:func:`ledger_core.partners.access.secret_sha256`), which lets the log confirm a secret without holding
it. Rotating a secret means issuing a new key id. Losing or changing the deployment secret invalidates
every API secret at once: back it up with the data directory.

**OAuth client secrets** are only ever verified, so only a salted scrypt hash is kept
(``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``) and checked in constant time.

The deployment secret comes from ``LEDGER_DEPLOYMENT_SECRET`` (base64, at least 32 bytes) or from
``<data dir>/deployment.secret`` (mode 0600, created atomically on first use); the token signing key
from ``<data dir>/token.key`` likewise. Those two loaders are the only I/O here; everything else takes
secrets as bytes from the composition root.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from adapters.files.private_files import ensure_private_file
from api.security.tokens import generate_signing_key
from ledger_core.engine.errors import InvalidCommand
from ledger_core.partners.access import new_api_key

__all__ = [
    "DEPLOYMENT_SECRET_ENV",
    "DEPLOYMENT_SECRET_FILE",
    "TOKEN_KEY_ENV",
    "TOKEN_KEY_FILE",
    "ClientCredentials",
    "api_key_factory",
    "derive_api_secret",
    "hash_client_secret",
    "load_deployment_secret",
    "load_token_key",
    "new_client_credentials",
    "verify_client_secret",
]

DEPLOYMENT_SECRET_ENV = "LEDGER_DEPLOYMENT_SECRET"  # noqa: S105 - a variable name, not a secret
DEPLOYMENT_SECRET_FILE = "deployment.secret"  # noqa: S105 - a file name, not a secret
TOKEN_KEY_FILE = "token.key"  # noqa: S105 - a file name, not a secret
TOKEN_KEY_ENV = "LEDGER_TOKEN_KEY_FILE"  # noqa: S105 - an environment variable name
MIN_DEPLOYMENT_SECRET = 32
_API_SECRET_LABEL = b"api-secret\x1f"
# scrypt cost: n = 2**14, r = 8, p = 1 (16 MiB, tens of milliseconds); the secrets are 256 random bits,
# so the cost only has to make a stolen hash useless, not stretch a weak password.
_SCRYPT_LOG2_N, _SCRYPT_R, _SCRYPT_P, _SCRYPT_LEN = 14, 8, 1, 32
_MAX_LOG2_N = 20  # refuse stored parameters that would make verification a denial of service


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def derive_api_secret(deployment_secret: bytes, key_id: str) -> str:
    """The API secret of ``key_id``: base64url (no padding) of HMAC-SHA256 under the deployment secret."""
    if len(deployment_secret) < MIN_DEPLOYMENT_SECRET:
        raise InvalidCommand("the deployment secret must be at least 32 bytes", field="deployment_secret")
    digest = hmac.new(deployment_secret, _API_SECRET_LABEL + key_id.encode("utf-8"), hashlib.sha256).digest()
    return _b64url(digest)


def api_key_factory(deployment_secret: bytes) -> Callable[[], tuple[str, str]]:
    """A ``key_factory`` for :class:`~ledger_core.partners.partner.PartnerService`: fresh ``pk_`` id, derived secret."""
    derive_api_secret(deployment_secret, "pk_check")  # fail at wiring time, not at the first issue

    def factory() -> tuple[str, str]:
        key_id, _random_secret = new_api_key()
        return key_id, derive_api_secret(deployment_secret, key_id)

    return factory


def hash_client_secret(secret: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash of an OAuth client secret, self-describing (parameters travel with it)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=2**_SCRYPT_LOG2_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_SCRYPT_LEN
    )
    encoded_salt, encoded_hash = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT_LOG2_N}${_SCRYPT_R}${_SCRYPT_P}${encoded_salt}${encoded_hash}"


def verify_client_secret(secret: str, stored: str) -> bool:
    """True iff ``secret`` matches ``stored`` (from :func:`hash_client_secret`); False if ``stored`` is bad."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return False
    if not (1 <= log2_n <= _MAX_LOG2_N and 1 <= r <= 32 and 1 <= p <= 16 and 16 <= len(expected) <= 64):
        return False
    try:
        actual = hashlib.scrypt(secret.encode(), salt=salt, n=2**log2_n, r=r, p=p, dklen=len(expected), maxmem=2**28)
    except ValueError:  # parameters beyond the memory cap
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """New OAuth client credentials. ``client_secret`` is shown once and kept out of ``repr``."""

    client_id: str
    client_secret: str = field(repr=False)
    secret_hash: str


def new_client_credentials(client_id: str) -> ClientCredentials:
    """A fresh 256-bit client secret (``cs_`` + base64url) for ``client_id`` and the hash to store."""
    secret = "cs_" + secrets.token_urlsafe(32)
    return ClientCredentials(client_id, secret, hash_client_secret(secret))


def _decode_secret(text: str, origin: str) -> bytes:
    standard = text.strip().replace("-", "+").replace("_", "/")  # base64 or base64url, padded or not
    try:
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error:
        raise InvalidCommand(f"{origin} must be base64", field=origin) from None
    if len(raw) < MIN_DEPLOYMENT_SECRET:
        raise InvalidCommand(f"{origin} must hold at least 32 bytes", field=origin)
    return raw


def load_deployment_secret(data_dir: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """The deployment secret: ``LEDGER_DEPLOYMENT_SECRET`` if set, else the data-dir file (created if missing)."""
    configured = (os.environ if environ is None else environ).get(DEPLOYMENT_SECRET_ENV)
    if configured:
        return _decode_secret(configured, DEPLOYMENT_SECRET_ENV)
    path = data_dir / DEPLOYMENT_SECRET_FILE
    content = ensure_private_file(path, lambda: base64.b64encode(secrets.token_bytes(32)) + b"\n")
    return _decode_secret(content.decode("ascii", errors="replace"), str(path))


def load_token_key(data_dir: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """The access-token signing key (Ed25519 PKCS#8 PEM): ``LEDGER_TOKEN_KEY_FILE`` if set (must exist),
    else ``<data dir>/token.key``, created if missing."""
    configured = (os.environ if environ is None else environ).get(TOKEN_KEY_ENV)
    if configured:
        return Path(configured).read_bytes()
    return ensure_private_file(data_dir / TOKEN_KEY_FILE, generate_signing_key)
