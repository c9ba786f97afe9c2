"""``ledger sso`` end to end, as an operator runs it (subprocess), on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.certificates import self_signed


def ledger(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", *args], capture_output=True, text=True, check=False, env=env)


def test_configure_show_deactivate_remove(database_url: str, tmp_path: Path) -> None:
    """configure-saml prints the SP endpoints; configure-oidc never prints its secret; deactivate records
    the event; remove drops the provider."""
    where = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    _, certificate = self_signed("idp.example")
    pem = tmp_path / "idp.pem"
    pem.write_text(certificate)
    saml = ledger(
        "sso", "configure-saml", "acme", "okta",
        "--entity-id", "https://acme.okta.example", "--sso-url", "https://acme.okta.example/sso",
        "--certificate", str(pem), "--attribute", "partner_id=employeeNumber", "--default-role", "user",
        "--base-url", "https://sso.example", *where,
    )  # fmt: skip
    assert saml.returncode == 0, saml.stderr
    shown = json.loads(saml.stdout)
    assert shown["sp"]["acs_url"] == "https://sso.example/sso/saml/acme/okta/acs"
    assert shown["settings"]["attributes"]["partner_id"] == "employeeNumber"

    secret = "cli-oidc-secret-0123456789abcdef"
    env = {**os.environ, "ACME_OIDC_SECRET": secret}
    oidc = ledger(
        "sso", "configure-oidc", "acme", "auth0", "--issuer", "https://acme.auth0.example/",
        "--client-id", "ledger", "--redirect-uri", "https://sso.example/sso/oidc/callback",
        "--client-secret-env", "ACME_OIDC_SECRET", "--user-kind", "member", *where, env=env,
    )  # fmt: skip
    assert oidc.returncode == 0, oidc.stderr
    assert secret not in oidc.stdout
    assert json.loads(oidc.stdout)["clientSecretSet"] is True

    listing = ledger("sso", "show", "acme", *where)
    assert [p["providerId"] for p in json.loads(listing.stdout)["providers"]] == ["auth0", "okta"]
    missing = ledger("sso", "deactivate", "acme", "staff", "emp-1", *where)
    assert missing.returncode == 2
    assert "NOT_FOUND" in missing.stderr
    bad = ledger("sso", "configure-saml", "acme", "x", "--entity-id", "e", "--sso-url", "ftp://x",
                 "--certificate", str(pem), *where)  # fmt: skip
    assert bad.returncode == 2
    assert "VALIDATION_ERROR" in bad.stderr
    removed = ledger("sso", "remove", "acme", "auth0", *where)
    assert removed.returncode == 0
    assert json.loads(removed.stdout)["positions"]
