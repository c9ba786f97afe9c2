"""What the partner console's pages show, read through the same use cases as the API and the CLI.

Each function runs in a worker thread (``run_blocking``) and returns plain data for a template:

* the outcome dashboard: ``ledger.membership.outcomes`` (``GET /api/v1/outcomes``), suppression included;
* webhooks: :class:`adapters.webhook_management.WebhookManager` (``/api/v1/webhooks``);
* claims: the partner's ``claim.submitted`` entries (``GET /api/v1/audit/logs``), each claim's current
  state (``GET /api/v1/claims/{id}``) and the inclusion proof of its newest event (``.../proof``);
* feeds: :func:`api.feeds_status.feed_status_rows` (``ledger feeds status``);
* credentials: the partner's key schedule (``GET /api/v1/operations/partners/{p}/api-key-policy``).

Only aggregates and the partner's own operational records are shown: no member, no member's result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

from adapters.outbox import DeliveryRecord
from adapters.webhook_targets import partner_error
from api.feeds_status import FeedStatusRow, feed_status_rows
from api.http.pages.console_charts import BarChart, outcome_charts
from api.http.routes.webhooks import manager
from api.runtime import Runtime
from ledger_core.engine.audit_log import LogQuery
from ledger_core.engine.errors import InvalidCommand
from ledger_core.engine.merkle import NotSealed
from ledger_core.members.outcomes import OutcomeReport, month_end
from ledger_core.partners.access import WebhookEndpoint

CLAIMS_PAGE = 20
DELIVERIES_PER_ENDPOINT = 20
CLAIM_SUBMITTED = "claim.submitted"


@dataclass(frozen=True, slots=True)
class Period:
    """Whole calendar months ``[start, end]`` as the dashboard's month inputs spell them (``YYYY-MM``)."""

    start: date
    end: date

    @property
    def start_month(self) -> str:
        return self.start.isoformat()[:7]

    @property
    def end_month(self) -> str:
        return self.end.isoformat()[:7]

    @classmethod
    def parse(cls, start: str | None, end: str | None, today: date) -> Period:
        """From ``YYYY-MM`` inputs; missing ones default to the twelve months ending with ``today``'s."""
        last = _month(end, "end") if end else today.replace(day=1)
        first = _month(start, "start") if start else _months_before(last, 11)
        return cls(first, month_end(last))


def _month(text: str, field: str) -> date:
    try:
        return date.fromisoformat(f"{text}-01")
    except ValueError:
        raise InvalidCommand(f"{field} must be a month, YYYY-MM", field=field) from None


def _months_before(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class Dashboard:
    report: OutcomeReport
    charts: list[BarChart]


def dashboard(runtime: Runtime, partner_id: str, period: Period) -> Dashboard:
    """The outcome report of ``period`` (suppressed as the API suppresses it) and its charts."""
    report = runtime.ledger.membership.outcomes(partner_id, period.start, period.end)
    return Dashboard(report, outcome_charts(report))


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    delivery_id: int
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class EndpointPanel:
    endpoint: WebhookEndpoint
    deliveries: list[DeliveryRow]
    has_more: bool


def _time(value: float | None) -> str:
    return "" if value is None else datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _delivery_row(record: DeliveryRecord) -> DeliveryRow:
    return DeliveryRow(
        record.delivery_id,
        record.event_type,
        str(record.status),
        record.attempts,
        record.last_status_code,
        partner_error(record.last_error),
        _time(record.created_at),
    )


def webhook_panels(runtime: Runtime, partner_id: str) -> list[EndpointPanel] | None:
    """Each endpoint with its newest deliveries; ``None`` when the server runs without webhooks."""
    if runtime.webhooks is None:
        return None
    webhooks = manager(runtime)
    panels = []
    for endpoint in webhooks.endpoints(partner_id):
        rows, more = webhooks.deliveries(
            partner_id, endpoint.endpoint_id, limit=DELIVERIES_PER_ENDPOINT, starting_after=None, status=None
        )
        panels.append(EndpointPanel(endpoint, [_delivery_row(r) for r in rows], more))
    return panels


def resend(runtime: Runtime, partner_id: str, endpoint_id: str, delivery_id: int) -> DeliveryRow:
    """``POST /api/v1/webhooks/endpoints/{e}/deliveries/{d}/resend``'s use case."""
    return _delivery_row(manager(runtime).resend(partner_id, endpoint_id, delivery_id))


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """A claim, its decision, and the inclusion proof of its newest event (``None`` while not yet sealed)."""

    claim_id: str
    partner_claim_id: str
    claim_type: str
    amount: str
    submitted_at: str
    status: str
    risk_level: str | None
    risk_score: int | None
    position: int
    tree_size: int | None
    merkle_root: str | None
    proof_json: str | None


@dataclass(frozen=True, slots=True)
class ClaimsPage:
    rows: list[ClaimRow]
    next_cursor: int | None


def claims_page(runtime: Runtime, partner_id: str, starting_after: int | None) -> ClaimsPage:
    """A page of the partner's claims in submission order, each with its current decision and proof."""
    page = runtime.audit.page(partner_id, LogQuery(CLAIMS_PAGE, starting_after, CLAIM_SUBMITTED))
    rows = [_claim_row(runtime, partner_id, UUID(entry.aggregate_id)) for entry in page.rows]
    cursor = page.rows[-1].position if page.has_more and page.rows else None
    return ClaimsPage(rows, cursor)


def _claim_row(runtime: Runtime, partner_id: str, claim_id: UUID) -> ClaimRow:
    current = runtime.ledger.claims.current(claim_id, partner_id)
    claim = current.claim
    latest = claim.verifications[-1] if claim.verifications else None
    try:
        document = runtime.audit.prove(current.head).document()
    except NotSealed:
        document = None
    return ClaimRow(
        claim_id=str(claim.id),
        partner_claim_id=claim.partner_claim_id,
        claim_type=claim.claim_type.value,
        amount=f"{claim.claim_amount_text} {claim.currency.value}",
        submitted_at=claim.submitted_at,
        status=claim.status.value,
        risk_level=None if latest is None or latest.risk_level is None else latest.risk_level.value,
        risk_score=None if latest is None else latest.risk_score,
        position=current.head,
        tree_size=None if document is None else document.tree_size,
        merkle_root=None if document is None else str(document.extra["merkleRoot"]),
        proof_json=None if document is None else json.dumps(document.to_json(), indent=2),
    )


def feed_rows(runtime: Runtime, partner_id: str) -> list[FeedStatusRow]:
    return feed_status_rows(runtime.settings, [partner_id], runtime.clock())
