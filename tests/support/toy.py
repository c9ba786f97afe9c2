"""A minimal aggregate for testing the log machinery independently of the domain model."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from ledger_core.engine.aggregate import LedgerAggregate, derive_id


class Account(LedgerAggregate):
    """A toy aggregate: opened, then any number of notes."""

    AGGREGATE_TYPE = "TestAccount"

    class Opened(LedgerAggregate.Created):
        EVENT_TYPE: ClassVar[str] = "test_account.opened"
        name: str

    class Noted(LedgerAggregate.Event):
        EVENT_TYPE: ClassVar[str] = "test_account.noted"
        text: str
        amount: str

        def apply(self, aggregate: Account) -> None:
            aggregate.notes.append(self.text)

    def __init__(self, partner_id: str | None, name: str) -> None:
        self.partner_id = partner_id
        self.name = name
        self.notes: list[str] = []

    @classmethod
    def open(cls, partner_id: str | None, name: str) -> Account:
        return cls._create(cls.Opened, id=account_id(partner_id, name), partner_id=partner_id, name=name)

    def note(self, text: str, amount: str = "0.00") -> None:
        self.trigger_event(self.Noted, text=text, amount=amount)


def account_id(partner_id: str | None, name: str) -> UUID:
    return derive_id("test-account", partner_id or "", name)
