"""The enrollment feed's column-wise fold: the same rows as a plain fold of the same log (one list per
enrollment, dicts keyed by the ids' text), whatever the events' order, the read chunks and the range;
its id table and packed strings against a dict and a list."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Sequence
from typing import Any, cast

import orjson
import pytest

from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.chain import StoredRow
from ledger_core.members.enrollments import enrollment_id
from ledger_core.members.feeds import compact, outbound
from ledger_core.members.feeds.compact import IdOrdinals, Mapped, PackedStrings
from ledger_core.members.feeds.outbound import ENROLLMENT_TYPES, EnrollmentFeed, EnrollmentState, id_key
from ledger_core.members.feeds.ports import FeedLogReader
from ledger_core.members.member import member_id
from ledger_core.members.subscriptions import subscription_id

P = "acme"
_DATES = {
    "enrollment.enrolled": "enrollment_date",
    "enrollment.kit_ordered": "kit_order_date",
    "enrollment.sample_received": "sample_received_date",
    "enrollment.result_delivered": "result_delivery_date",
}
_STATUS = {"subscription.started": "Active", "subscription.restarted": "Active", "subscription.cancelled": "Cancelled"}


class ListLog:
    """``partner_rows_of_types`` over a list of rows (the feed's only read)."""

    def __init__(self, rows: Sequence[StoredRow]) -> None:
        self.rows = rows
        self.reads = 0

    def partner_rows_of_types(
        self, partner_id: str, types: Sequence[str], *, start: int, stop: int, limit: int, descending: bool = False
    ) -> Sequence[StoredRow]:
        self.reads += 1
        found = [r for r in self.rows if r.partner_id == partner_id and r.type in types and start <= r.position < stop]
        return found[:limit]

    def existing_aggregates(self, aggregate_ids: Sequence[str]) -> set[str]:
        return set()


def plain_fold(rows: Sequence[StoredRow], since: int, through: int) -> list[tuple[str, ...]]:
    """The fold as it was written before it went column-wise (the reference)."""
    by_id: dict[str, list[Any]] = {}
    order: list[list[Any]] = []
    subscriber: dict[str, str] = {}
    erased: set[str] = set()
    for row in rows:
        if row.partner_id != P or row.type not in ENROLLMENT_TYPES or row.position >= through:
            continue
        touched = row.position >= since
        if row.type == "member.personal_data_erased":
            erased.add(row.aggregate_id)
            continue
        payload = orjson.loads(row.entry)["payload"]
        if row.type in _STATUS:
            pmid = payload.get("partner_member_id") or subscriber.get(row.aggregate_id)
            if pmid is None:
                continue
            subscriber[row.aggregate_id] = pmid
            found = by_id.get(str(enrollment_id(P, pmid)))
            if found is not None:
                found[5] = _STATUS[row.type]
                found[6] |= touched
            continue
        enrollment = by_id.get(row.aggregate_id)
        if row.type == "enrollment.enrolled" and enrollment is None:
            enrollment = by_id[row.aggregate_id] = [payload["partner_member_id"], "", "", "", "", "None", False]
            order.append(enrollment)
        if enrollment is None:
            continue
        enrollment[1 + list(_DATES).index(row.type)] = payload.get(_DATES[row.type]) or ""
        enrollment[6] |= touched
    return [
        (e[0], e[1], e[2], e[3], e[4], "", e[5])
        for e in order
        if (since == 0 or e[6]) and str(member_id(P, e[0])) not in erased
    ]


def random_log(seed: int, members: int) -> list[StoredRow]:
    """Enrollments, their steps, subscriptions (some before the enrollment), erasures, replayed creations,
    steps of unknown enrollments and another partner's rows, in a random order."""
    rng = random.Random(seed)
    events: list[tuple[str, str, str, dict[str, Any]]] = []  # (partner, type, aggregate id, payload)
    for index in range(members):
        pmid = rng.choice([f"pm{index:05d}", f"m\u00e9mbre-{index}", f"\U0001f600{index}"])
        enrollment = str(enrollment_id(P, pmid))
        subscription = str(subscription_id(P, pmid))
        day = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        events.append((P, "enrollment.enrolled", enrollment, {"partner_member_id": pmid, "enrollment_date": day}))
        steps = rng.sample(list(_DATES)[1:], rng.randint(0, 3))
        events += [(P, kind, enrollment, {_DATES[kind]: rng.choice([day, "2026-02-02", None])}) for kind in steps]
        if rng.random() < 0.4:
            events.append((P, "subscription.started", subscription, {"partner_member_id": pmid}))
            changes = rng.choices(["subscription.cancelled", "subscription.restarted"], k=rng.randint(0, 2))
            events += [(P, kind, subscription, {}) for kind in changes]
        if rng.random() < 0.1:
            events.append((P, "member.personal_data_erased", str(member_id(P, pmid)), {"keys_destroyed": 1}))
        if rng.random() < 0.05:  # a replayed creation keeps its place and its member id
            replayed = {"partner_member_id": "other", "enrollment_date": day}
            events.append((P, "enrollment.enrolled", enrollment, replayed))
        if rng.random() < 0.05:
            events.append((P, "enrollment.kit_ordered", str(uuid.uuid4()), {"kit_order_date": day}))
            events.append((P, "subscription.cancelled", str(uuid.uuid4()), {}))
        if rng.random() < 0.1:
            events.append(("other", "enrollment.enrolled", enrollment, {"partner_member_id": pmid}))
    rng.shuffle(events)
    return [
        StoredRow(position, aggregate, 1, kind, partner, orjson.dumps({"payload": payload}), b"")
        for position, (partner, kind, aggregate, payload) in enumerate(events)
    ]


@pytest.mark.parametrize(("seed", "members", "chunk"), [*((seed, 300, 7 + seed) for seed in range(6)), (6, 9000, 900)])
def test_the_column_wise_fold_gives_the_plain_folds_rows(
    seed: int, members: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full and incremental ranges, small read chunks (rows of one enrollment split across reads), columns
    grown several times."""
    monkeypatch.setattr(outbound, "_READ_CHUNK", chunk)
    rows = random_log(seed, members)
    log = ListLog(rows)
    feed = EnrollmentFeed(cast(LedgerApplication, None), cast(FeedLogReader, log))
    size = len(rows)
    for since, through in ((0, size), (size // 3, size), (size // 2, size - size // 5), (size, size), (0, size // 4)):
        produced = feed.rows(P, since, through)
        expected = plain_fold(rows, since, through)
        assert list(produced) == expected
        assert produced.count == len(expected)
        assert list(produced) == expected  # iterating again gives the same rows
    assert log.reads > size // chunk


def test_id_ordinals_number_ids_in_the_order_first_added() -> None:
    table, reference = IdOrdinals(), dict[bytes, int]()
    keys = [os.urandom(16) for _ in range(20_000)]
    for key in keys + keys[::3]:
        assert table.add(key) == reference.setdefault(key, len(reference))
    assert len(table) == len(reference) == 20_000
    assert all(table.find(key) == ordinal for key, ordinal in reference.items())
    assert all(table.find(os.urandom(16)) == -1 for _ in range(1_000))
    with pytest.raises(ValueError, match="16 bytes"):
        table.add(b"short")


def test_packed_strings_read_back_what_was_appended() -> None:
    values = ["", "m00000001", "m\u00e9mbre", "\U0001f600", "", "x" * 300]
    packed = PackedStrings()
    for value in values:
        packed.append(value)
    assert len(packed) == len(values)
    assert [packed[index] for index in range(len(values))] == values


def test_dates_past_65536_distinct_days_keep_every_index() -> None:
    """The date columns start at 2 bytes per date and widen without losing what they hold."""
    state = EnrollmentState()
    first = state.enroll(id_key(str(uuid.uuid4())), "a")
    second = state.enroll(id_key(str(uuid.uuid4())), "b")
    state.set_date(first, 0, "2026-01-01")
    for day in range(70_000):
        state.set_date(second, 1, f"day-{day}")
    state.set_date(second, 2, "2026-01-01")
    assert state.row(first) == ("a", "2026-01-01", "", "", "", "", "None")
    assert state.row(second) == ("b", "", "day-69999", "2026-01-01", "", "", "None")


@pytest.mark.parametrize("remap", [True, False])
def test_mapped_columns_keep_their_items_when_they_grow(remap: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Grown in place (``mremap``, Linux) or copied into a larger mapping (elsewhere); new room reads zero."""
    monkeypatch.setattr(compact, "_CAN_REMAP", remap and compact._CAN_REMAP)
    column = Mapped("Q")
    for size in (10, 5_000, 70_000):
        column.reserve(size)
        assert len(column) >= size
        column.items[size - 1] = size
    assert [column.items[size - 1] for size in (10, 5_000, 70_000)] == [10, 5_000, 70_000]
    assert column.items[69_998] == 0
    packed = PackedStrings()
    for index in range(3_000):
        packed.append(f"m\u00e9mbre-{index}")
    packed._widen_ends()  # as past 4 GiB of strings: 8-byte offsets, the same strings
    packed.append("last")
    expected = ["m\u00e9mbre-0", "m\u00e9mbre-1234", "m\u00e9mbre-2999", "last"]
    assert [packed[index] for index in (0, 1_234, 2_999, 3_000)] == expected
    with pytest.raises(IndexError):
        packed[3_001]
