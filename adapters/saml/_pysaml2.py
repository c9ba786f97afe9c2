"""pysaml2, imported once and quietly: 7.5 touches ``cryptography``'s deprecated CFB mode attribute at
import time (a ``CryptographyDeprecationWarning`` about a cipher we never use). Everything else of ours
imports pysaml2 through this module."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="CFB has been moved", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="CFB has been moved")
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
