"""Subscriptions to annual/monthly monitoring (seed 001 §4.3 events 4 and 5).

The id is ``derive_id("subscription", partner_id, partner_member_id)``: one subscription per member,
which may be cancelled and later restarted (``subscription.restarted``, not a second aggregate).
Starting an active subscription again with the same terms records nothing; with other terms it is an
:class:`InvalidTransition`. Amounts are decimal strings in the currency's exponent (``"50.00"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import InvalidCommand, InvalidTransition
from ledger_core.members.member import Member, member_id
from ledger_core.shared.money import Currency, format_amount, parse_amount, parse_currency
from ledger_core.shared.service_support import save
from ledger_core.shared.validation import check_identifier, check_partner_slug, check_text, parse_choice, parse_date
from ledger_core.shared.vocabulary import SubscriptionFrequency, SubscriptionStatus


def subscription_id(partner_id: str, partner_member_id: str) -> UUID:
    return derive_id("subscription", partner_id, partner_member_id)


def _terms(start_date: str, amount: str | int | Decimal, currency: str, frequency: str) -> dict[str, Any]:
    parsed_currency = parse_currency(currency)
    return {
        "start_date": parse_date(start_date, "start_date").isoformat(),
        "amount": format_amount(parse_amount(amount, parsed_currency, field="amount"), parsed_currency),
        "currency": parsed_currency.value,
        "frequency": parse_choice(SubscriptionFrequency, frequency, "frequency").value,
    }


class Subscription(LedgerAggregate):
    """A member's monitoring subscription."""

    AGGREGATE_TYPE: ClassVar[str] = "Subscription"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Started(Created):
        EVENT_TYPE: ClassVar[str] = "subscription.started"
        partner_member_id: str
        start_date: str
        amount: str
        currency: str
        frequency: str

    class Cancelled(Event):
        EVENT_TYPE: ClassVar[str] = "subscription.cancelled"
        cancellation_date: str
        reason: str | None

        def apply(self, aggregate: Subscription) -> None:
            aggregate.status = SubscriptionStatus.CANCELLED
            aggregate.cancellation_date = date.fromisoformat(self.cancellation_date)
            aggregate.cancellation_reason = self.reason

    class Restarted(Event):
        EVENT_TYPE: ClassVar[str] = "subscription.restarted"
        start_date: str
        amount: str
        currency: str
        frequency: str

        def apply(self, aggregate: Subscription) -> None:
            aggregate._set_terms(self.start_date, self.amount, self.currency, self.frequency)

    def __init__(
        self,
        partner_id: str | None,
        partner_member_id: str,
        start_date: str,
        amount: str,
        currency: str,
        frequency: str,
    ) -> None:
        self.partner_id = partner_id
        self.partner_member_id = partner_member_id
        self._set_terms(start_date, amount, currency, frequency)

    def _set_terms(self, start_date: str, amount: str, currency: str, frequency: str) -> None:
        self.status = SubscriptionStatus.ACTIVE
        self.start_date = date.fromisoformat(start_date)
        self.currency = Currency(currency)
        self.amount = Decimal(amount)
        self.frequency = SubscriptionFrequency(frequency)
        self.cancellation_date: date | None = None
        self.cancellation_reason: str | None = None

    def terms(self) -> dict[str, Any]:
        """The current terms as event values."""
        return {
            "start_date": self.start_date.isoformat(),
            "amount": format_amount(self.amount, self.currency),
            "currency": self.currency.value,
            "frequency": self.frequency.value,
        }

    @classmethod
    def start(
        cls,
        *,
        partner_id: str,
        partner_member_id: str,
        start_date: str,
        amount: str | int | Decimal,
        currency: str,
        frequency: str,
    ) -> Subscription:
        """Start a member's first subscription (amount > 0)."""
        partner_id = check_partner_slug(partner_id)
        pmid = check_identifier(partner_member_id, "partner_member_id", max_length=64)
        terms = _terms(start_date, amount, currency, frequency)
        return cls._create(
            cls.Started, id=subscription_id(partner_id, pmid), partner_id=partner_id, partner_member_id=pmid, **terms
        )

    def restart(self, *, start_date: str, amount: str | int | Decimal, currency: str, frequency: str) -> None:
        """Start again: a no-op if active on the same terms; after a cancellation, on or after its date."""
        terms = _terms(start_date, amount, currency, frequency)
        if self.status is SubscriptionStatus.ACTIVE:
            if terms == self.terms():
                return
            raise InvalidTransition("subscription", self.status.value, "start")
        if self.cancellation_date is not None and date.fromisoformat(terms["start_date"]) < self.cancellation_date:
            raise InvalidCommand(
                "start_date is before the cancellation",
                field="start_date",
                value=terms["start_date"],
                not_before=self.cancellation_date.isoformat(),
            )
        self.trigger_event(self.Restarted, **terms)

    def cancel(self, *, cancellation_date: str, reason: str | None = None) -> None:
        """Cancel an active subscription on or after its start date; cancelling again records nothing."""
        day = parse_date(cancellation_date, "cancellation_date")
        if reason is not None:
            check_text(reason, "reason", max_length=500)
        if self.status is SubscriptionStatus.CANCELLED:
            if day == self.cancellation_date:
                return
            raise InvalidTransition("subscription", self.status.value, "cancel")
        if day < self.start_date:
            raise InvalidCommand(
                "cancellation_date is before the start date",
                field="cancellation_date",
                value=day.isoformat(),
                not_before=self.start_date.isoformat(),
            )
        self.trigger_event(self.Cancelled, cancellation_date=day.isoformat(), reason=reason)


@dataclass(frozen=True, slots=True)
class SubscriptionResult:
    subscription_id: UUID
    partner_member_id: str
    status: str
    positions: tuple[int, ...]


class SubscriptionService:
    """Subscription commands; the member must exist and not be erased."""

    def __init__(self, app: LedgerApplication) -> None:
        self.app = app

    def get(self, partner_id: str, partner_member_id: str) -> Subscription:
        return self.app.load(Subscription, subscription_id(partner_id, partner_member_id), "subscription")

    def status(self, partner_id: str, partner_member_id: str) -> SubscriptionStatus:
        """``none`` if the member never subscribed, else ``active`` or ``cancelled``."""
        found = self.app.find(Subscription, subscription_id(partner_id, partner_member_id))
        return SubscriptionStatus.NONE if found is None else found.status

    def start(
        self,
        partner_id: str,
        partner_member_id: str,
        *,
        start_date: str,
        amount: str | int | Decimal,
        currency: str,
        frequency: str,
    ) -> SubscriptionResult:
        """Start, or restart after a cancellation."""
        member = self.app.load(Member, member_id(partner_id, partner_member_id), "member")
        if member.erased:
            raise InvalidTransition("member", "erased", "subscribe")
        terms: dict[str, Any] = {
            "start_date": start_date,
            "amount": amount,
            "currency": currency,
            "frequency": frequency,
        }
        subscription = self.app.find(Subscription, subscription_id(partner_id, partner_member_id))
        if subscription is None:
            subscription = Subscription.start(partner_id=partner_id, partner_member_id=partner_member_id, **terms)
        else:
            subscription.restart(**terms)
        return self._result(subscription)

    def cancel(
        self, partner_id: str, partner_member_id: str, *, cancellation_date: str, reason: str | None = None
    ) -> SubscriptionResult:
        subscription = self.get(partner_id, partner_member_id)
        subscription.cancel(cancellation_date=cancellation_date, reason=reason)
        return self._result(subscription)

    def _result(self, subscription: Subscription) -> SubscriptionResult:
        positions = save(self.app, subscription)
        return SubscriptionResult(subscription.id, subscription.partner_member_id, subscription.status.value, positions)
