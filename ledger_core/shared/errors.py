"""Domain errors beyond :mod:`ledger_core.engine.errors`. Each carries its evidence as attributes and in ``details``.

Evidence never includes personal plaintext: errors about personal fields name the field, not the value.
"""

from __future__ import annotations

from typing import Any

from ledger_core.engine.errors import LedgerError


class IdempotencyConflict(LedgerError):
    """A create with an existing natural key but a different payload (an identical one is a no-op)."""

    code = "IDEMPOTENCY_CONFLICT"

    def __init__(self, kind: str, identifier: str, differing_fields: list[str], **details: Any) -> None:
        super().__init__(
            f"{kind} {identifier} already exists with different {', '.join(differing_fields)}",
            kind=kind,
            id=identifier,
            differing_fields=differing_fields,
            **details,
        )
        self.kind = kind
        self.identifier = identifier
        self.differing_fields = differing_fields
