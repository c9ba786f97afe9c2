"""The SAML service provider's signing key and certificate (signed metadata, AuthnRequests, LogoutRequests).

Configured paths (``settings.sso.sp_key`` / ``sp_certificate``, PEM) are used as they are. Otherwise the
pair lives in the data directory: ``saml_sp.pem`` (key and self-signed certificate together, created once,
atomically, so racing workers cannot end up with a key and a certificate that do not match), from which
``saml_sp.key`` and ``saml_sp.crt`` are written for pysaml2 and xmlsec1, which take separate files. The
certificate is valid ten years: partners pin it from our metadata, and rolling it is a coordinated change
(docs/sso.md "Certificates").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from adapters.files.private_files import ensure_private_file

PAIR_FILE = "saml_sp.pem"
KEY_FILE = "saml_sp.key"
CERT_FILE = "saml_sp.crt"
_BEGIN_CERT = b"-----BEGIN CERTIFICATE-----"


def _new_pair(common_name: str) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem + certificate.public_bytes(serialization.Encoding.PEM)


def sp_key_pair(
    data_dir: Path, key_path: Path | None = None, cert_path: Path | None = None, common_name: str = "ledger-sp"
) -> tuple[Path, Path]:
    """``(key file, certificate file)`` of the SP, creating the data-directory pair on first use."""
    if key_path is not None and cert_path is not None:
        return key_path, cert_path
    pair = ensure_private_file(data_dir / PAIR_FILE, lambda: _new_pair(common_name))
    split = pair.index(_BEGIN_CERT)
    key_file, cert_file = data_dir / KEY_FILE, data_dir / CERT_FILE
    ensure_private_file(key_file, lambda: pair[:split])
    ensure_private_file(cert_file, lambda: pair[split:])
    return key_file, cert_file
