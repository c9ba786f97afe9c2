"""``ledger sso status`` and ``ledger sso sync``: single sign-on health and one deprovisioning pass.

``status`` prints each configured provider's health (seed 001 section 7.3): protocol, its earliest IdP
certificate expiry and state (SAML), the last success and failure (with the reason code) and the success
rate over every recorded attempt (``sso_login_stats``). ``sync PARTNER FILE`` applies a roster
(``users_<partner>_<YYYYMMDD>.csv``, docs/sso.md "Deprovisioning sync"): every active account the file does
not list is deactivated, its sessions revoked and its provider tokens deleted. ``register(sso_app)`` adds
both commands to the ``sso`` group.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from adapters.opening import open_ledger
from adapters.roster import parse_roster, roster_file_name
from adapters.storage import DEFAULT_DATA_DIR, StorageConfig, open_oidc_tokens, open_sso_health, open_sso_store
from api.cli.options import DatabaseUrl, DataDir
from api.sso_roster import apply_roster
from api.sso_status import ProviderHealth, configured_providers, provider_health
from ledger_core.accounts.directory import SsoPartners

UserKindOption = Annotated[
    str | None, typer.Option("--user-kind", help="staff or member, for a roster whose column is partner_user_id.")
]


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _rate(line: ProviderHealth) -> str:
    rate = line.success_rate
    return "-" if rate is None else f"{rate:.2%}"


def status(
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object instead of a table.")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Each partner's identity providers: protocol, certificate expiry, last success/failure, success rate."""
    config = StorageConfig(data_dir, database_url)
    with open_ledger(config) as ledger:
        providers = configured_providers(ledger.accounts, SsoPartners(ledger.app.log_reader).partners())
    health = open_sso_health(config)
    try:
        rows = health.rows()
    finally:
        health.close()
    report = provider_health(providers, rows, datetime.now(UTC))
    if json_output:
        typer.echo(json.dumps({"providers": [line.to_json() for line in report]}, indent=2, sort_keys=True))
        return
    table = Table("partner", "provider", "protocol", "certificate", "last success", "last failure", "success rate")
    for line in report:
        certificate = (
            "-"
            if line.certificate_not_after is None or line.certificate_stage is None
            else f"{line.certificate_not_after:%Y-%m-%d} ({line.certificate_stage.value})"
        )
        failure = _when(line.last_failure_at) + (f" {line.last_failure_reason}" if line.last_failure_reason else "")
        attempts = line.successes + line.failures
        table.add_row(
            line.partner_id,
            line.provider_id,
            line.protocol,
            certificate,
            _when(line.last_success_at),
            failure,
            f"{_rate(line)} of {attempts}",
        )
    Console().print(table)


def sync(
    partner_id: str,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="users_<partner>_<YYYYMMDD>.csv")],
    user_kind: UserKindOption = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Deactivate every account of PARTNER that FILE (the users who remain active) does not list."""
    name = file.name if roster_file_name(file.name) is not None else None
    roster = parse_roster(partner_id, file.read_bytes(), user_kind=user_kind, name=name)
    config = StorageConfig(data_dir, database_url)
    sessions = open_sso_store(config)
    tokens = open_oidc_tokens(config)
    try:
        with open_ledger(config) as ledger:
            report = apply_roster(ledger, sessions, tokens, roster, source=file.name, actor="cli")
    finally:
        tokens.close()
        sessions.close()
    typer.echo(json.dumps(report, indent=2, sort_keys=True))


def register(sso_app: typer.Typer) -> None:
    sso_app.command("status")(status)
    sso_app.command("sync")(sync)
