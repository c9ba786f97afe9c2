"""api.security.secrets: derived API secrets, hashed client secrets, the deployment secret file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from pathlib import Path

import pytest

from api.security.secrets import (
    DEPLOYMENT_SECRET_ENV,
    api_key_factory,
    derive_api_secret,
    hash_client_secret,
    load_deployment_secret,
    load_token_key,
    new_client_credentials,
    verify_client_secret,
)
from ledger_core.engine.errors import InvalidCommand
from ledger_core.partners.access import secret_sha256

from .helpers import DEPLOYMENT_SECRET


def test_derive_api_secret_known_answer() -> None:
    """apiSecret = base64url_nopad(HMAC-SHA256(deployment secret, "api-secret" 0x1F key id))."""
    digest = hmac.new(DEPLOYMENT_SECRET, b"api-secret\x1fpk_0123456789abcdef", hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert derive_api_secret(DEPLOYMENT_SECRET, "pk_0123456789abcdef") == expected
    assert len(expected) == 43


def test_derived_secrets_differ_per_key_and_deployment() -> None:
    """Another key id or another deployment secret gives an unrelated secret."""
    one = derive_api_secret(DEPLOYMENT_SECRET, "pk_0000000000000001")
    assert one != derive_api_secret(DEPLOYMENT_SECRET, "pk_0000000000000002")
    assert one != derive_api_secret(bytes(32), "pk_0000000000000001")


def test_short_deployment_secret_refused() -> None:
    """A deployment secret under 32 bytes is a configuration error, caught at wiring time."""
    with pytest.raises(InvalidCommand):
        derive_api_secret(b"short", "pk_1")
    with pytest.raises(InvalidCommand):
        api_key_factory(b"short")


def test_api_key_factory_issues_derivable_keys() -> None:
    """The PartnerService key factory returns a fresh pk_ id and the secret the server can re-derive."""
    factory = api_key_factory(DEPLOYMENT_SECRET)
    key_id, secret = factory()
    assert key_id.startswith("pk_")
    assert len(key_id) == 19
    assert secret == derive_api_secret(DEPLOYMENT_SECRET, key_id)
    assert factory()[0] != key_id
    assert len(secret_sha256(secret)) == 64  # what the Partner aggregate records


def test_client_secret_hash_round_trip() -> None:
    """The right secret verifies, a wrong one does not, and two hashes of one secret differ (salt)."""
    credentials = new_client_credentials("partner_acme_insurance")
    assert credentials.client_secret.startswith("cs_")
    assert credentials.client_secret not in repr(credentials)
    assert verify_client_secret(credentials.client_secret, credentials.secret_hash)
    assert not verify_client_secret(credentials.client_secret + "x", credentials.secret_hash)
    assert hash_client_secret("same") != hash_client_secret("same")
    assert credentials.secret_hash.startswith("scrypt$14$8$1$")


def test_client_secret_hash_is_deterministic_for_a_salt() -> None:
    """With a fixed salt the hash is scrypt(n=2^14, r=8, p=1, 32 bytes), base64 in the record."""
    salt = b"\x01" * 16
    stored = hash_client_secret("cs_secret", salt=salt)
    expected = hashlib.scrypt(b"cs_secret", salt=salt, n=2**14, r=8, p=1, dklen=32)
    assert stored.split("$")[-1] == base64.b64encode(expected).decode()


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "sha256$abc",
        "scrypt$14$8$1$AAAA",
        "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$30$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # too costly
        "scrypt$14$8$1$!!!!$AAAA",
        "scrypt$20$32$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # over the memory cap
    ],
)
def test_malformed_stored_hash_never_verifies(stored: str) -> None:
    """A corrupt or hostile stored hash is a plain failure, never an exception or a long computation."""
    assert not verify_client_secret("anything", stored)


def test_deployment_secret_from_environment(tmp_path: Path) -> None:
    """LEDGER_DEPLOYMENT_SECRET (base64 or base64url, padded or not) wins and writes no file."""
    raw = bytes(range(100, 148))
    for text in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).rstrip(b"=").decode()):
        assert load_deployment_secret(tmp_path, {DEPLOYMENT_SECRET_ENV: text}) == raw
    assert not any(tmp_path.iterdir())
    with pytest.raises(InvalidCommand):
        load_deployment_secret(tmp_path, {DEPLOYMENT_SECRET_ENV: base64.b64encode(b"short").decode()})
    with pytest.raises(InvalidCommand):
        load_deployment_secret(tmp_path, {DEPLOYMENT_SECRET_ENV: "not base64 at all!"})


def test_deployment_secret_file_created_once_with_mode_0600(tmp_path: Path) -> None:
    """Without the variable a 32-byte secret is created (0600) in the data dir, then reused."""
    data_dir = tmp_path / "data"
    first = load_deployment_secret(data_dir, {})
    assert len(first) == 32
    path = data_dir / "deployment.secret"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert load_deployment_secret(data_dir, {}) == first
    assert [p.name for p in data_dir.iterdir()] == ["deployment.secret"]  # no temporary files left


def test_concurrent_first_use_agrees_on_one_secret(tmp_path: Path) -> None:
    """Workers starting together all load the same secret (atomic create, losers read the winner's)."""
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        results.append(load_deployment_secret(tmp_path, {}))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert len(set(results)) == 1


def test_token_key_file_created_once_and_usable(tmp_path: Path) -> None:
    """The token signing key is created as a 0600 PEM in the data dir, reused, and signs tokens."""
    from api.security.tokens import TokenIssuer

    pem = load_token_key(tmp_path)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert oct(os.stat(tmp_path / "token.key").st_mode & 0o777) == "0o600"
    assert load_token_key(tmp_path) == pem
    TokenIssuer(pem, issuer="https://ledger.test", audience="https://ledger.test/api/v1")
