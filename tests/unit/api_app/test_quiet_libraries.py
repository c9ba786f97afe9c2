"""Libraries that log personal data at INFO (pysaml2: a parsed SAML response, its NameID email) log warnings only."""

from __future__ import annotations

import logging

import pytest

from api.http.observability import QUIET_LIBRARIES, configure_logging
from api.settings import Settings


def test_saml_library_info_lines_are_dropped_at_info_level(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging(Settings())
    assert "saml2" in QUIET_LIBRARIES
    with caplog.at_level(logging.INFO):
        logging.getLogger("saml2.response").info("<NameID>someone@partner.example</NameID>")
        logging.getLogger("saml2.response").warning("signature missing")
    assert [record.getMessage() for record in caplog.records if record.name.startswith("saml2")] == [
        "signature missing"
    ]
