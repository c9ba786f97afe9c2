"""``ledger members`` and ``ledger outcomes``: erasure (crypto-shredding), eligibility checks, outcome figures.

``ledger members erase PARTNER MEMBER_ID`` withdraws the member from the outcome figures, destroys their
data key and records ``member.personal_data_erased``: their names, email, date of birth, results, actions
and reminder messages become unreadable everywhere, while every log entry, proof and ``ledger verify``
stay valid. ``ledger outcomes show`` prints a partner's figures for a period (suppressed as over HTTP);
``ledger outcomes rebuild`` recomputes the counters from the log. Deployment settings (restricted states,
suppression threshold, cost model) come from the same ``LEDGER_*`` variables as the server, and the
commands call the same use cases as the HTTP API (``ledger.membership``). ``register(app)`` adds both groups.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.opening import open_ledger
from adapters.storage import DEFAULT_DATA_DIR
from api.cli.options import DatabaseUrl, DataDir, existing
from api.membership import member_policy
from api.settings import Settings
from ledger_core.ledger import Ledger
from ledger_core.shared.validation import parse_date

members_app = typer.Typer(no_args_is_help=True, help="Members: eligibility checks and erasure.")
outcomes_app = typer.Typer(no_args_is_help=True, help="Aggregate outcome figures (suppressed, per partner).")


def _open(data_dir: Path, database_url: str | None) -> Ledger:
    settings = Settings.from_env()
    return open_ledger(
        existing(data_dir, database_url),
        restricted_states=settings.members.restricted_states,
        member_policy=member_policy(settings),
    )


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


@members_app.command("erase")
def erase(
    partner_id: str, member_id: str, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None
) -> None:
    """Erase a member's personal data for good (their key is destroyed; the erasure is a log event)."""
    with _open(data_dir, database_url) as ledger:
        result = ledger.membership.erase(partner_id, member_id)
    _echo(
        {
            "partner_id": partner_id,
            "partner_member_id": member_id,
            "member_id": str(result.member_id),
            "keys_destroyed": result.keys_destroyed,
            "positions": list(result.positions),
        }
    )


@members_app.command("eligibility")
def eligibility(
    partner_id: str, member_id: str, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None
) -> None:
    """Whether a member is eligible today, and the rule that fails if not."""
    with _open(data_dir, database_url) as ledger:
        decision = ledger.membership.eligibility(partner_id, member_id).decision
    _echo(
        {
            "partner_member_id": decision.partner_member_id,
            "eligible": decision.eligible,
            "reason": decision.reason,
            "rule": decision.rule,
            "enrolled": decision.enrolled,
        }
    )


@outcomes_app.command("show")
def show(
    partner_id: str,
    start_date: Annotated[str, typer.Option("--start", help="First day of a month, YYYY-MM-DD.")],
    end_date: Annotated[str, typer.Option("--end", help="Last day of a month (inclusive), YYYY-MM-DD.")],
    recompute: Annotated[bool, typer.Option(help="Recompute from the full log instead of the counters.")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """A partner's outcome figures for a period (counts below the threshold suppressed)."""
    first, last = parse_date(start_date, "start_date"), parse_date(end_date, "end_date")
    with _open(data_dir, database_url) as ledger:
        compute = ledger.outcomes.recomputed_report if recompute else ledger.membership.outcomes
        report = compute(partner_id, first, last)
    _echo(
        {
            "partner_id": report.partner_id,
            "period_start": report.period_start.isoformat(),
            "period_end": report.period_end.isoformat(),
            "metrics": report.metrics,
            "suppressed": list(report.suppressed),
            "suppression_threshold": report.suppression_threshold,
        }
    )


@outcomes_app.command("rebuild")
def rebuild(data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Recompute every outcome counter from the full log and replace the stored ones."""
    with _open(data_dir, database_url) as ledger:
        rows = ledger.membership.rebuild_outcomes()
    _echo({"counter_rows": rows, "rebuilt_on": date.today().isoformat()})


def register(app: typer.Typer) -> None:
    """Add ``members`` and ``outcomes`` to the ``ledger`` application."""
    app.add_typer(members_app, name="members")
    app.add_typer(outcomes_app, name="outcomes")
