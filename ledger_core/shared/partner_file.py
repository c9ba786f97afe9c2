"""A partner's inbound file as an aggregate: received, loaded part by part, finished, or rejected whole.

The base of :class:`~ledger_core.claims.batch.claims_file.ClaimsFile` and
:class:`~ledger_core.members.feeds.eligibility_file.EligibilityFile`. The id is
``derive_id(FILE_KIND, partner_id, sha256 of the file)``: a file is known by its bytes, so the same file run
again finds its aggregate and records nothing, and a run killed midway resumes after its last recorded part.

What the two share lives here: the created events' common fields (``file_name``, ``digest``, ``size``; a
rejection's ``rejection``, ``message``, ``line``), the state they set, the checks made when a file is
received or rejected, and the rule that only a loading file takes a command. Each subclass names everything
that is stored (``AGGREGATE_TYPE``, every ``EVENT_TYPE``), declares its own part and finish events and its
counters, and gives its status enum (``S``, with ``loading`` and ``rejected`` members) and its rejection
reasons (``R``). The classes here carry no ``EVENT_TYPE``, so none of them is ever written to the log.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Generic, Self, TypeVar, cast
from uuid import UUID

from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.engine.errors import InvalidTransition
from ledger_core.shared.validation import check_partner_slug, check_sha256_hex

S = TypeVar("S", bound=StrEnum)
R = TypeVar("R", bound=StrEnum)


class PartnerFile(LedgerAggregate, Generic[S, R]):
    """One partner's file, identified by its SHA-256 (see the module docstring)."""

    FILE_KIND: ClassVar[str] = ""
    """The id's kind (``derive_id``) and the entity an :class:`InvalidTransition` names, e.g. ``claims_file``."""
    STATUS: ClassVar[type[StrEnum]]
    """``S``: its ``loading`` member is where a file starts, its ``rejected`` member where a rejected one ends."""
    REJECTION: ClassVar[type[StrEnum]]
    """``R``: why a file is rejected whole."""

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Received(Created):
        file_name: str
        digest: str
        size: int

    class Rejected(Created):
        file_name: str
        digest: str
        size: int
        rejection: str
        message: str
        line: int | None

    def __init__(
        self,
        partner_id: str | None,
        file_name: str,
        digest: str,
        size: int,
        rejection: str | None,
        message: str | None,
        line: int | None,
    ) -> None:
        self.partner_id = partner_id
        self.file_name = file_name
        self.digest = digest
        self.size = size
        self.rejection: R | None = None if rejection is None else self._rejection(rejection)
        self.message = message
        self.line = line
        self.status: S = self._status("loading" if rejection is None else "rejected")

    @classmethod
    def file_id(cls, partner_id: str, digest: str) -> UUID:
        return derive_id(cls.FILE_KIND, partner_id, digest)

    @classmethod
    def _received(cls, partner_id: str, file_name: str, digest: str, size: int, **fields: Any) -> Self:
        """The file as received; ``fields`` are the subclass's own fields of its ``Received`` event."""
        return cls._new(cls.Received, partner_id, file_name, digest, size, fields)

    @classmethod
    def _rejected(
        cls, partner_id: str, file_name: str, digest: str, size: int, rejection: R, message: str, line: int | None
    ) -> Self:
        """The file as rejected whole (nothing of it loads)."""
        fields = {"rejection": rejection.value, "message": message, "line": line}
        return cls._new(cls.Rejected, partner_id, file_name, digest, size, fields)

    @classmethod
    def _new(
        cls, event: type[Created], partner_id: str, file_name: str, digest: str, size: int, fields: dict[str, Any]
    ) -> Self:
        partner_id = check_partner_slug(partner_id)
        return cls._create(
            event,
            id=cls.file_id(partner_id, check_sha256_hex(digest, "digest")),
            partner_id=partner_id,
            file_name=file_name,
            digest=digest,
            size=size,
            **fields,
        )

    def _require_loading(self, command: str, *, stale: bool = False) -> None:
        """Refuse ``command`` unless the file is loading (and the part is not ``stale``: already recorded)."""
        if self.status.value != "loading" or stale:
            raise InvalidTransition(self.FILE_KIND, self.status.value, command)

    # STATUS and REJECTION are S's and R's classes (a ClassVar cannot name a type variable).
    def _status(self, value: str) -> S:
        return cast("S", self.STATUS(value))

    def _rejection(self, value: str) -> R:
        return cast("R", self.REJECTION(value))
