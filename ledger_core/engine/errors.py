"""The ledger's error hierarchy. Every error carries its evidence as attributes and in ``details``.

``code`` is a stable machine-readable string; the HTTP layer maps codes to statuses in one place.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import IntegrityError as _EventsourcingIntegrityError


class LedgerError(Exception):
    """Base of all ledger errors: ``code`` for machines, ``str()`` for people, ``details`` as evidence."""

    code = "LEDGER_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details


class InvalidCommand(LedgerError):
    """A command or value failed validation; ``details['field']`` names the offending field."""

    code = "VALIDATION_ERROR"


class NotFound(LedgerError):
    """The named entity does not exist (or is not visible to the caller)."""

    code = "NOT_FOUND"

    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"{kind} {identifier!r} not found", kind=kind, id=identifier)
        self.kind = kind
        self.identifier = identifier


class InvalidTransition(LedgerError):
    """A command is not allowed in the entity's current state."""

    code = "INVALID_STATE_TRANSITION"

    def __init__(self, entity: str, current: str, attempted: str) -> None:
        super().__init__(
            f"{entity} cannot go from {current!r} to {attempted!r}",
            entity=entity,
            current=current,
            attempted=attempted,
        )


class ConcurrencyConflict(LedgerError, _EventsourcingIntegrityError):
    """Optimistic concurrency: the aggregate moved on since it was read; reload and retry."""

    code = "CONCURRENCY_CONFLICT"

    def __init__(self, aggregate_id: str, expected_version: int, found_version: int | None) -> None:
        super().__init__(
            f"aggregate {aggregate_id} is at version {found_version}, expected {expected_version}",
            aggregate_id=aggregate_id,
            expected_version=expected_version,
            found_version=found_version,
        )
        self.aggregate_id = aggregate_id
        self.expected_version = expected_version
        self.found_version = found_version


class LogMoved(LedgerError):
    """An anchored save (:class:`~ledger_core.engine.sequencer.AnchoredDrafts`) was to start at position
    ``expected`` but the log had reached ``found``: another save came first. Recompute and retry."""

    code = "LOG_MOVED"

    def __init__(self, expected: int, found: int) -> None:
        super().__init__(
            f"the save was anchored at position {expected}, the log is at {found}", expected=expected, found=found
        )
        self.expected = expected
        self.found = found


class IntegrityViolation(LedgerError):
    """Stored data does not match what the log commits to: tampering or corruption."""

    code = "INTEGRITY_VIOLATION"

    def __init__(self, message: str, position: int, **details: Any) -> None:
        super().__init__(message, position=position, **details)
        self.position = position


class ChainBroken(IntegrityViolation):
    """The entry at ``position`` does not link to the entry before it (or is not what was stored)."""

    code = "CHAIN_BROKEN"

    def __init__(self, position: int, expected: str, found: str, reason: str = "prev link") -> None:
        super().__init__(
            f"chain broken at position {position} ({reason}): expected {expected}, found {found}",
            position=position,
            expected=expected,
            found=found,
            reason=reason,
        )
        self.expected = expected
        self.found = found
        self.reason = reason


class MalformedEntry(LedgerError, ValueError):
    """Entry bytes that are not a version-1 envelope (also a ``ValueError``: a parse failure)."""

    code = "MALFORMED_ENTRY"
