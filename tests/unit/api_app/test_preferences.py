"""The ``Prefer`` header (RFC 7240 §2): preference names, case-insensitive, over repeated headers."""

from __future__ import annotations

import pytest

from api.http.preferences import preference_names, prefers_async


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["respond-async"], True),
        (["Respond-Async"], True),
        (["return=minimal, respond-async; foo=bar"], True),
        (["wait=10", " respond-async "], True),
        (["return=representation"], False),
        ([], False),
        (["respond-asynchronously"], False),
    ],
)
def test_prefers_async(values: list[str], expected: bool) -> None:
    assert prefers_async(values) is expected


def test_names_ignore_values_and_parameters() -> None:
    assert preference_names(['wait = 10, handling="lenient"; x=1', ""]) == {"wait", "handling"}
