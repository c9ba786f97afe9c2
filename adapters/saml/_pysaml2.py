"""pysaml2, imported quietly and only when first used.

Importing pysaml2 loads and compiles the SAML XML schemas (``saml2.xml.schema``, through xmlschema): about
half of a server process's start-up CPU (``python -X importtime -c "import api.app"``), paid by every API
worker, CLI command and test server whether or not any partner uses SAML. So this module imports it on the
first attribute read (PEP 562 module ``__getattr__``; the import system's module locks make concurrent first
reads safe), and the type checker sees the real names. pysaml2 7.5 also touches ``cryptography``'s
deprecated CFB mode attribute at import time (a ``CryptographyDeprecationWarning`` about a cipher we never
use): silenced here. Everything else of ours reads pysaml2 through this module, as ``_pysaml2.NAME`` at call
time (a ``from ... import NAME`` would import pysaml2 at once).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, SAMLError
    from saml2.client import Saml2Client
    from saml2.config import SPConfig
    from saml2.metadata import create_metadata_string
    from saml2.response import (
        AuthnResponse,
        IncorrectlySigned,
        StatusError,
        UnsolicitedResponse,
        VerificationError,
    )
    from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
    from saml2.samlp import STATUS_SUCCESS
    from saml2.sigver import MissingKey, SignatureError, SigverError

__all__ = [
    "BINDING_HTTP_POST",
    "BINDING_HTTP_REDIRECT",
    "NAMEID_FORMAT_EMAILADDRESS",
    "STATUS_SUCCESS",
    "AuthnResponse",
    "IncorrectlySigned",
    "MissingKey",
    "NameID",
    "SAMLError",
    "SPConfig",
    "Saml2Client",
    "SignatureError",
    "SigverError",
    "StatusError",
    "UnsolicitedResponse",
    "VerificationError",
    "create_metadata_string",
]


def _load() -> dict[str, Any]:
    """Import pysaml2 and return the names above."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="CFB has been moved", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="CFB has been moved")
        import saml2
        import saml2.client
        import saml2.config
        import saml2.metadata
        import saml2.response
        import saml2.saml
        import saml2.samlp
        import saml2.sigver
    modules = (saml2, saml2.client, saml2.config, saml2.metadata, saml2.response, saml2.saml, saml2.samlp, saml2.sigver)
    found: dict[str, Any] = {}
    for name in __all__:
        for module in modules:
            if hasattr(module, name):
                found[name] = getattr(module, name)
                break
        else:
            raise ImportError(f"pysaml2 has no {name}")
    return found


def __getattr__(name: str) -> Any:
    """PEP 562: the pysaml2 name ``name``, importing pysaml2 on the first read."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    names = _load()
    globals().update(names)
    return names[name]
