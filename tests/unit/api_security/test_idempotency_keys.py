"""adapters.idempotency.parse_idempotency_key: the header's accepted forms and refusals."""

from __future__ import annotations

import pytest

from adapters.idempotency import IdempotencyKeyInvalid, parse_idempotency_key


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (None, None),
        ('"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('  "with space"  ', "with space"),
        (r'"quote \" and backslash \\"', 'quote " and backslash \\'),
        ("x" * 255, "x" * 255),
    ],
)
def test_accepted_keys(header: str | None, key: str | None) -> None:
    """An sf-string (draft form) or a bare token is accepted; None means no header."""
    assert parse_idempotency_key(header) == key


@pytest.mark.parametrize("header", ["", '""', "x" * 256, "two words", "clé", '"unterminated', "tab\tkey"])
def test_refused_keys(header: str) -> None:
    """Empty, over-long, spaced (unquoted), non-ASCII or malformed keys are a 400."""
    with pytest.raises(IdempotencyKeyInvalid) as caught:
        parse_idempotency_key(header)
    assert caught.value.code == "IDEMPOTENCY_KEY_INVALID"
    assert caught.value.status == 400
