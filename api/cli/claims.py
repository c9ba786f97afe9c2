"""``ledger claims``: review a claim (operations) and explain a claim's verifications from the log.

``ledger claims review CLAIM_ID --decision verified|rejected --reviewer NAME [--notes TEXT]`` records
``claim.review_resolved`` on a flagged claim or a ``full`` claim awaiting review (the same use case as
``POST /api/v1/operations/claims/{partner}/{id}/review``: ``ledger.claims.review``). ``ledger claims
explain CLAIM_ID`` recomputes every recorded verification of the claim from the log alone
(``ledger.claims.explain``) and prints recorded and recomputed side by side (JSON); it exits 1 when any
of them does not match. ``register(app)`` adds the group.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

import typer

from adapters.opening import open_ledger
from adapters.storage import DEFAULT_DATA_DIR
from api.cli.options import DatabaseUrl, DataDir, existing
from ledger_core.engine.errors import NotFound

claims_app = typer.Typer(no_args_is_help=True, help="Claims: review decisions and replayed explanations.")


def _claim_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise NotFound("claim", text[:80]) from None


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


@claims_app.command("review")
def review(
    claim_id: str,
    decision: Annotated[str, typer.Option(help="verified or rejected.")],
    reviewer: Annotated[str, typer.Option(help="Who decides (recorded in the log).")],
    notes: Annotated[str, typer.Option(help="Why (recorded in the log).")] = "",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Decide a flagged claim, or a full-level claim awaiting review."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        result = ledger.claims.review(_claim_id(claim_id), decision=decision, reviewer=reviewer, notes=notes)
    _echo(
        {
            "claim_id": str(result.claim.id),
            "partner_id": result.claim.partner_id,
            "status": result.claim.status.value,
            "reviewed_by": result.claim.reviewed_by,
            "positions": list(result.positions),
        }
    )


@claims_app.command("explain")
def explain(claim_id: str, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Recompute every verification of the claim from the log; exit 1 if any differs from the record."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        claim_uuid = _claim_id(claim_id)
        checks = ledger.claims.explain(claim_uuid)
    matches = bool(checks) and all(check.matches for check in checks)
    _echo({"claim_id": str(claim_uuid), "matches": matches, "verifications": [check.to_json() for check in checks]})
    if not matches:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``claims`` to the ``ledger`` application."""
    app.add_typer(claims_app, name="claims")
