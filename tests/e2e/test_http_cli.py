"""``ledger partners`` and ``ledger serve --sandbox`` as an operator runs them (subprocesses, real HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.http_server import claim_body, ledger_command, live_server, server_env

from api.client.ledger_client import LedgerApiError, LedgerClient
from ledger_core.shared.vocabulary import SCOPES


def test_partner_credentials_from_the_cli_work_over_http(tmp_path: Path) -> None:
    """``partners create`` prints the five credentials once; ``serve --sandbox`` prints the sandbox's once."""
    data_dir = tmp_path / "data"
    env = server_env(data_dir, None)
    assert ledger_command("init", env=env).returncode == 0
    created = ledger_command(
        "partners", "create", "ACME Insurance", "--tier", "standard", "--category", "insurance_carrier", env=env
    )
    assert created.returncode == 0, created.stderr
    credentials = json.loads(created.stdout)
    assert credentials["partnerId"] == "acme_insurance"
    assert credentials["clientId"] == "partner_acme_insurance"
    assert credentials["clientSecret"].startswith("cs_")
    assert credentials["apiKey"].startswith("pk_")
    assert len(credentials["apiSecret"]) == 43
    assert credentials["tier"] == "standard"
    shown = ledger_command("partners", "show", "acme_insurance", env=env)
    assert credentials["clientSecret"] not in shown.stdout
    assert credentials["apiSecret"] not in shown.stdout

    with live_server(data_dir, args=["--sandbox"]) as server:
        sandbox = json.loads(server.banner)
        assert (sandbox["partnerId"], sandbox["tier"]) == ("sandbox", "sandbox")
        assert sandbox["scopes"] == sorted(SCOPES)  # the whole partner API to try; never "operations"
        for secrets in (credentials, sandbox):
            with LedgerClient(
                server.url,
                client_id=secrets["clientId"],
                client_secret=secrets["clientSecret"],
                api_key=secrets["apiKey"],
                api_secret=secrets["apiSecret"],
            ) as client:
                result = client.submit_claim(claim_body("CLM-CLI"))
                assert result.proof is not None
    with live_server(data_dir, args=["--sandbox"]) as again:
        assert again.banner == ""  # the secrets were shown once, on the first start only
    duplicate = ledger_command("partners", "create", "ACME Insurance", env=env)
    assert duplicate.returncode == 2
    assert "INVALID_STATE_TRANSITION" in duplicate.stderr


def test_operators_hold_only_the_operations_scope(tmp_path: Path) -> None:
    """``operators create`` makes an operations principal: it authenticates, but partner endpoints are 403;
    a partner can never be granted the ``operations`` scope."""
    data_dir = tmp_path / "data"
    env = server_env(data_dir, None)
    assert ledger_command("init", env=env).returncode == 0
    created = ledger_command("operators", "create", "Care Team", env=env)
    assert created.returncode == 0, created.stderr
    operator = json.loads(created.stdout)
    assert (operator["partnerId"], operator["scopes"]) == ("care_team", ["operations"])
    refused = ledger_command("partners", "create", "Sneaky", "--scope", "operations", env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "VALIDATION_ERROR: scopes operations not allowed for a claims_software principal"
    with (
        live_server(data_dir) as server,
        LedgerClient(
            server.url,
            client_id=operator["clientId"],
            client_secret=operator["clientSecret"],
            api_key=operator["apiKey"],
            api_secret=operator["apiSecret"],
        ) as client,
    ):
        assert client.fetch_token().scope == "operations"
        with pytest.raises(LedgerApiError) as denied:
            client.submit_claim(claim_body("CLM-OPS"))
        assert (denied.value.status, denied.value.code) == (403, "AUTH_INSUFFICIENT_SCOPE")


def test_lost_sandbox_credentials_are_reissued(tmp_path: Path) -> None:
    """``serve --sandbox`` prints the sandbox's credentials once and, on later starts, how to get new ones;
    ``partners rotate-secret sandbox`` issues them (shown once) and the old ones stop working."""
    data_dir = tmp_path / "data"
    env = server_env(data_dir, None)
    with live_server(data_dir, args=["--sandbox"]) as first:
        lost = json.loads(first.banner)
    assert "rotate-secret sandbox" in lost["note"]
    reissued = ledger_command("partners", "rotate-secret", "sandbox", env=env)
    assert reissued.returncode == 0, reissued.stderr
    fresh = json.loads(reissued.stdout)
    assert fresh["clientSecret"] != lost["clientSecret"]
    assert fresh["apiKey"] != lost["apiKey"]
    assert fresh["revokedKey"] == lost["apiKey"]
    with live_server(data_dir, args=["--sandbox"]) as again:
        assert again.banner == ""
        assert "ledger partners rotate-secret sandbox" in again.log_path.read_text(encoding="utf-8")

        def client(secrets: dict[str, str]) -> LedgerClient:
            return LedgerClient(again.url, client_id=secrets["clientId"], client_secret=secrets["clientSecret"],
                                api_key=secrets["apiKey"], api_secret=secrets["apiSecret"], max_retries=0)  # fmt: skip

        with client(fresh) as working:
            assert working.submit_claim(claim_body("CLM-NEW")).proof is not None
        with client(lost) as old, pytest.raises(LedgerApiError) as refused:
            old.submit_claim(claim_body("CLM-OLD"))
        assert refused.value.status == 401
