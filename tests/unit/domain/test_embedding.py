"""Portal origins (ledger_core/partners/embedding.py): RFC 6454 origins only, normalized, recorded once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.errors import InvalidCommand
from ledger_core.partners.embedding import MAX_PORTAL_ORIGINS, PartnerEmbedding, check_origin, check_origins

from .fakes import event_types, replay, state

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@pytest.mark.parametrize(
    ("given_origin", "expected"),
    [
        ("https://benefits.partner.com", "https://benefits.partner.com"),
        ("HTTPS://Benefits.Partner.COM:443/", "https://benefits.partner.com"),
        ("https://partner.com:8443", "https://partner.com:8443"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://127.0.0.1", "http://127.0.0.1"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_origins_are_normalized(given_origin: str, expected: str) -> None:
    assert check_origin(given_origin) == expected


@pytest.mark.parametrize(
    "wrong",
    [
        "https://partner.com/benefits",
        "https://partner.com?x=1",
        "https://partner.com#top",
        "https://user:pw@partner.com",
        "http://partner.com",
        "ftp://partner.com",
        "partner.com",
        "https://",
        "https://partner.com:99999",
        "https://partner.com\n",
        "*",
    ],
)
def test_anything_but_an_origin_is_refused(wrong: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        check_origin(wrong)
    assert refused.value.details["field"] == "origin"


@given(labels=st.lists(LABEL, min_size=2, max_size=4), port=st.none() | st.integers(1, 65535))
def test_normalizing_twice_changes_nothing(labels: list[str], port: int | None) -> None:
    origin = "https://" + ".".join(labels) + ("" if port is None else f":{port}")
    once = check_origin(origin)
    assert check_origin(once) == once
    assert check_origin(once.upper()) == once


def test_lists_are_deduplicated_sorted_and_bounded() -> None:
    assert check_origins(["https://b.example", "https://a.example", "https://B.example:443"]) == [
        "https://a.example",
        "https://b.example",
    ]
    with pytest.raises(InvalidCommand):
        check_origins([f"https://p{i}.example" for i in range(MAX_PORTAL_ORIGINS + 1)])


def test_each_change_is_one_event_with_the_previous_list() -> None:
    embedding = PartnerEmbedding._create(PartnerEmbedding.Opened, id=derive_id("embedding", "acme"), partner_id="acme")
    embedding.set_origins(["https://a.example"])
    embedding.set_origins(["https://A.example/"])  # the same origin: nothing recorded
    embedding.set_origins([])
    events = embedding.collect_events()
    assert event_types(events) == ["embedding.opened", "embedding.origins_set", "embedding.origins_set"]
    cleared = events[2]
    assert isinstance(cleared, PartnerEmbedding.OriginsSet)
    assert cleared.previous_origins == ["https://a.example"]
    assert state(replay(events)) == state(embedding)
    assert embedding.origins == ()
