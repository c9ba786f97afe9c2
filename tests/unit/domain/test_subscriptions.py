"""Subscriptions: start, cancel, restart, with money as decimal strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.members.member import MemberService
from ledger_core.members.member_record import EligibilityRecord
from ledger_core.members.privacy import PersonalDataVault
from ledger_core.members.subscriptions import Subscription, SubscriptionService
from ledger_core.shared.vocabulary import SubscriptionStatus

from .fakes import FakeApp, FixedClock, event_types, replay, state

PARTNER = "northwestern_mutual"
TERMS: dict[str, Any] = {"start_date": "2026-02-01", "amount": "50", "currency": "USD", "frequency": "annual"}


def started(**overrides: Any) -> Subscription:
    return Subscription.start(partner_id=PARTNER, partner_member_id="12345678", **{**TERMS, **overrides})


def test_start() -> None:
    """Starting records the terms with the amount as a two-place decimal string."""
    subscription = started()
    [event] = subscription.collect_events()
    assert isinstance(event, Subscription.Started)
    assert type(event).EVENT_TYPE == "subscription.started"
    assert subscription.id == derive_id("subscription", PARTNER, "12345678")
    assert event.amount == "50.00"
    assert subscription.amount == Decimal("50.00")
    assert subscription.status is SubscriptionStatus.ACTIVE
    assert state(replay([event])) == state(subscription)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"amount": 50.0}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "49.999"}, "amount"),
        ({"currency": "CAD"}, "currency"),
        ({"frequency": "weekly"}, "frequency"),
        ({"start_date": "02/01/2026"}, "start_date"),
    ],
)
def test_start_validation(override: dict[str, Any], field: str) -> None:
    """Invalid terms raise InvalidCommand naming the field."""
    with pytest.raises(InvalidCommand) as caught:
        started(**override)
    assert caught.value.details["field"] == field


def test_cancel_and_restart() -> None:
    """Cancel, repeat-cancel (no-op), then restart on or after the cancellation date."""
    subscription = started()
    with pytest.raises(InvalidCommand) as early:
        subscription.cancel(cancellation_date="2026-01-31")
    assert early.value.details["not_before"] == "2026-02-01"
    subscription.cancel(cancellation_date="2026-05-15", reason="No longer interested")
    subscription.cancel(cancellation_date="2026-05-15", reason="again")
    with pytest.raises(InvalidTransition):
        subscription.cancel(cancellation_date="2026-05-16")
    assert subscription.status is SubscriptionStatus.CANCELLED
    with pytest.raises(InvalidCommand):
        subscription.restart(**{**TERMS, "start_date": "2026-05-14"})
    subscription.restart(**{**TERMS, "start_date": "2026-06-01", "frequency": "monthly", "amount": "5"})
    events = subscription.collect_events()
    assert event_types(events) == [
        "subscription.started",
        "subscription.cancelled",
        "subscription.restarted",
    ]
    assert isinstance(events[1], Subscription.Cancelled)
    assert events[1].reason == "No longer interested"
    # mypy keeps the narrowing of the CANCELLED assert above across restart(), which changes the status.
    assert subscription.status is SubscriptionStatus.ACTIVE  # type: ignore[comparison-overlap]
    assert subscription.cancellation_date is None
    assert state(replay(events)) == state(subscription)


def test_restart_while_active() -> None:
    """Starting an active subscription on the same terms is a no-op; other terms are refused."""
    subscription = started()
    subscription.collect_events()
    subscription.restart(**{**TERMS, "amount": "50.00"})
    assert subscription.collect_events() == []
    with pytest.raises(InvalidTransition) as caught:
        subscription.restart(**{**TERMS, "amount": "75"})
    assert caught.value.details["current"] == "active"


def test_service(vault: PersonalDataVault) -> None:
    """The service requires a member, reports none/active/cancelled and restarts after cancellation."""
    app = FakeApp()
    service = SubscriptionService(app)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        service.start(PARTNER, "12345678", **TERMS)
    record = EligibilityRecord("12345678", "a@b.co", "A", "B", "1980-05-15", "IA", "Life")
    MemberService(app, vault, FixedClock()).upsert(PARTNER, record)  # type: ignore[arg-type]
    assert service.status(PARTNER, "12345678") is SubscriptionStatus.NONE
    assert service.start(PARTNER, "12345678", **TERMS).status == "active"
    assert service.cancel(PARTNER, "12345678", cancellation_date="2026-03-01").status == "cancelled"
    assert service.status(PARTNER, "12345678") is SubscriptionStatus.CANCELLED
    assert service.start(PARTNER, "12345678", **{**TERMS, "start_date": "2026-04-01"}).status == "active"
    assert app.types()[1:] == ["subscription.started", "subscription.cancelled", "subscription.restarted"]
