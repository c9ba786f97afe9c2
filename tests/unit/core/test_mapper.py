"""Mapping domain events to drafts: event ids, the per-aggregate id cache, refusals."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.toy import Account

import ledger_core.engine.mapper as mapper_module
from ledger_core.engine.aggregate import LEDGER_NAMESPACE, LedgerAggregate, uuid5_format, uuid5_prefix, uuid5_text
from ledger_core.engine.errors import InvalidCommand
from ledger_core.engine.mapper import DraftStoredEvent, EnvelopeMapper, EventRegistry, event_id_for


def stdlib_event_id(aggregate_id: uuid.UUID, version: int) -> str:
    return str(uuid.uuid5(LEDGER_NAMESPACE, f"event\x1f{aggregate_id}\x1f{version}"))


@given(st.text())
def test_uuid5_text_is_the_stdlib_uuid5(name: str) -> None:
    """The fast uuid5 (and its prefix/format split) equals ``uuid.uuid5`` for any name."""
    expected = str(uuid.uuid5(LEDGER_NAMESPACE, name))
    assert uuid5_text(name) == expected
    head, tail = name[: len(name) // 2], name[len(name) // 2 :]
    state = uuid5_prefix(head).copy()
    state.update(tail.encode())
    assert uuid5_format(state.hexdigest()) == expected


@given(st.uuids(), st.lists(st.integers(min_value=1, max_value=2**53 - 1), min_size=1, max_size=5))
def test_draft_event_ids_follow_their_definition(aggregate_id: uuid.UUID, versions: list[int]) -> None:
    """A draft's event id is uuid5("event" US id US version) whether its aggregate id is cached or not."""
    mapper = EnvelopeMapper(EventRegistry([Account]))
    for version in versions:
        event = Account.Noted(  # type: ignore[call-arg]  # eventsourcing makes events dataclasses
            originator_id=aggregate_id,
            originator_version=version,
            timestamp=Account.Event.create_timestamp(),
            partner_id="p",
            text="t",
            amount="1.00",
        )
        draft = mapper.to_draft(event)
        assert draft.event_id == stdlib_event_id(aggregate_id, version) == event_id_for(aggregate_id, version)
        assert (draft.aggregate_id, draft.aggregate_version) == (str(aggregate_id), version)
        assert (draft.type, draft.aggregate_type, draft.partner_id) == ("test_account.noted", "TestAccount", "p")
        assert draft.payload == {"text": "t", "amount": "1.00"}


def test_id_cache_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """The remembered aggregate ids stay bounded; a forgotten id is derived again, identically."""
    monkeypatch.setattr(mapper_module, "_ID_CACHE_SIZE", 3)
    mapper = EnvelopeMapper(EventRegistry([Account]))
    accounts = [Account.open("acme", f"a{k}") for k in range(7)]
    for _ in range(2):
        for account in accounts:
            account.note("x")
            for event in account.collect_events():
                draft = mapper.to_draft(event)
                assert draft.event_id == stdlib_event_id(account.id, event.originator_version)
                assert len(mapper._ids) <= 3


def test_stored_event_wraps_the_draft() -> None:
    """``to_stored_event`` (eventsourcing's path) carries the same draft, with an empty state."""
    mapper = EnvelopeMapper(EventRegistry([Account]))
    account = Account.open("acme", "s")
    (event,) = account.collect_events()
    stored = mapper.to_stored_event(event)
    assert isinstance(stored, DraftStoredEvent)
    assert stored.draft == mapper.to_draft(event)
    assert (stored.originator_id, stored.originator_version, stored.topic, stored.state) == (
        account.id, 1, "test_account.opened", b"",
    )  # fmt: skip


def test_unregistered_event_class_is_refused() -> None:
    """An event class outside the registry has no stable type: TypeError, every time."""

    class Stray(LedgerAggregate):
        class Happened(LedgerAggregate.Event):
            pass

        def happen(self) -> None:
            self.trigger_event(self.Happened)

    stray = Stray(partner_id=None)  # type: ignore[call-arg]  # eventsourcing derives __init__
    stray.happen()
    mapper = EnvelopeMapper(EventRegistry([Account]))
    for event in stray.collect_events():
        for _ in range(2):
            with pytest.raises(TypeError, match="not registered"):
                mapper.to_draft(event)


@pytest.mark.parametrize(
    ("amount", "refused"),
    [("1.00", False), (7, False), (None, False), ({"k": ["x", True]}, False), (1.5, True), (2**60, True), ((1,), True)],
)
def test_payload_values_are_checked(amount: object, refused: bool) -> None:
    """Strings pass straight through; anything else is checked, and a refusal names the event type."""
    mapper = EnvelopeMapper(EventRegistry([Account]))
    account = Account.open("acme", "checked")
    account.collect_events()
    account.note("text", amount)  # type: ignore[arg-type]
    (event,) = account.collect_events()
    if refused:
        with pytest.raises(InvalidCommand, match=r"^test_account\.noted: "):
            mapper.to_draft(event)
    else:
        assert mapper.to_draft(event).payload == {"text": "text", "amount": amount}
