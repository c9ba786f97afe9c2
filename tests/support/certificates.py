"""Self-signed RSA certificates for test identity providers (valid, expired or not yet valid)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def self_signed(
    common_name: str, *, not_before: datetime | None = None, not_after: datetime | None = None
) -> tuple[str, str]:
    """``(private key PEM, certificate PEM)`` of a fresh RSA-2048 key, valid a year from now by default."""
    now = datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or min(now, not_after or now) - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()


def expiring_in(common_name: str, now: datetime, days: float) -> str:
    """A certificate PEM issued a year before ``now`` whose ``notAfter`` is ``days`` after it (negative: past)."""
    return self_signed(common_name, not_before=now - timedelta(days=365), not_after=now + timedelta(days=days))[1]
