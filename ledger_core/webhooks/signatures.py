"""The server's side of webhook signatures: endpoint secrets, and the shared scheme the dispatcher signs with.

The scheme itself (Standard Webhooks 1.0 and the seed's ``X-Proveniq-Signature``, signing and checking)
lives in :mod:`proofs.webhooks`, below ``ledger_core`` and shipped with the partner SDK, so the
dispatcher and a partner's receiver run the same code.

Endpoint secrets are derived, never stored: ``whsec_`` + base64(HMAC-SHA256(deployment secret,
"webhook-secret" 0x1F secret_id)), as API secrets are (see ``api/security/secrets.py``). Pure functions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from proofs.webhooks import SECRET_PREFIX

__all__ = ["derive_endpoint_secret"]

_LABEL = b"webhook-secret\x1f"


def derive_endpoint_secret(deployment_secret: bytes, secret_id: str) -> str:
    """The ``whsec_`` secret of ``secret_id`` under the deployment secret (32 bytes of key)."""
    if len(deployment_secret) < 32:
        raise ValueError("the deployment secret must be at least 32 bytes")
    key = hmac.new(deployment_secret, _LABEL + secret_id.encode("utf-8"), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")
