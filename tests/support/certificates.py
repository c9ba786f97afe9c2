"""Self-signed X.509 certificates with chosen validity windows, for certificate-expiry tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def certificate_pem(common_name: str, not_before: datetime, not_after: datetime) -> str:
    """A PEM certificate for ``common_name`` valid from ``not_before`` through ``not_after``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def expiring_in(common_name: str, now: datetime, days: float) -> str:
    """A certificate issued a year before ``now`` whose ``notAfter`` is ``days`` after it (negative: past)."""
    return certificate_pem(common_name, now - timedelta(days=365), now + timedelta(days=days))
