"""Documents registered by hash (seed 000 §4.1 ``POST /documents``): the ledger holds the SHA-256, never bytes.

The id is ``derive_id("document", partner_id, sha256)``: each partner has its own record of a hash.
Registering the same hash again with the same declared attributes is a no-op; with different ones it is
a :class:`DocumentConflict`. Media type must agree with the document type (``pdf`` is
``application/pdf``, ``photo`` is ``image/*``; ``form`` may be anything).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from ledger_core.claims.errors import DocumentConflict
from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import ConcurrencyConflict, InvalidCommand
from ledger_core.shared.service_support import save
from ledger_core.shared.validation import check_int, check_metadata, check_partner_slug, check_sha256_hex, parse_choice
from ledger_core.shared.vocabulary import DocumentType

MAX_SIZE_BYTES = 10 * 1024**3  # 10 GiB
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")


@dataclass(frozen=True, slots=True)
class DocumentRegistration:
    """Validated attributes of a document registration."""

    partner_id: str
    sha256: str
    document_type: DocumentType
    media_type: str
    size_bytes: int
    metadata: Mapping[str, str]

    @property
    def document_id(self) -> UUID:
        return derive_id("document", self.partner_id, self.sha256)


def validate_registration(
    *,
    partner_id: str,
    sha256: str,
    document_type: str,
    media_type: str,
    size_bytes: int,
    metadata: Mapping[str, str],
) -> DocumentRegistration:
    """Validate a registration; the media type is lower-cased (parameters such as ``;charset`` are refused)."""
    kind = parse_choice(DocumentType, document_type, "document_type")
    if not isinstance(media_type, str) or not _MEDIA_TYPE.fullmatch(media_type.lower()):
        raise InvalidCommand("media_type must be type/subtype", field="media_type", value=str(media_type)[:130])
    normalized = media_type.lower()
    if (kind is DocumentType.PDF and normalized != "application/pdf") or (
        kind is DocumentType.PHOTO and not normalized.startswith("image/")
    ):
        raise InvalidCommand(
            f"media_type {normalized} does not fit document_type {kind.value}",
            field="media_type",
            value=normalized,
            document_type=kind.value,
        )
    return DocumentRegistration(
        partner_id=check_partner_slug(partner_id),
        sha256=check_sha256_hex(sha256, "sha256"),
        document_type=kind,
        media_type=normalized,
        size_bytes=check_int(size_bytes, "size_bytes", minimum=0, maximum=MAX_SIZE_BYTES),
        metadata=check_metadata(metadata, "metadata"),
    )


class Document(LedgerAggregate):
    """A document a partner registered: content hash and declared attributes."""

    AGGREGATE_TYPE: ClassVar[str] = "Document"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Registered(Created):
        EVENT_TYPE: ClassVar[str] = "document.registered"
        sha256: str
        document_type: str
        media_type: str
        size_bytes: int
        metadata: dict[str, str]
        registered_by: str

    def __init__(
        self,
        partner_id: str | None,
        sha256: str,
        document_type: str,
        media_type: str,
        size_bytes: int,
        metadata: dict[str, str],
        registered_by: str,
    ) -> None:
        self.partner_id = partner_id
        self.sha256 = sha256
        self.document_type = DocumentType(document_type)
        self.media_type = media_type
        self.size_bytes = size_bytes
        self.metadata = dict(metadata)
        self.registered_by = registered_by

    @classmethod
    def register(
        cls,
        *,
        partner_id: str,
        sha256: str,
        document_type: str,
        media_type: str,
        size_bytes: int,
        metadata: Mapping[str, str],
    ) -> Document:
        """Validate and register a document hash for ``partner_id``."""
        return cls.from_registration(
            validate_registration(
                partner_id=partner_id,
                sha256=sha256,
                document_type=document_type,
                media_type=media_type,
                size_bytes=size_bytes,
                metadata=metadata,
            )
        )

    @classmethod
    def from_registration(cls, registration: DocumentRegistration) -> Document:
        return cls._create(
            cls.Registered,
            id=registration.document_id,
            partner_id=registration.partner_id,
            sha256=registration.sha256,
            document_type=registration.document_type.value,
            media_type=registration.media_type,
            size_bytes=registration.size_bytes,
            metadata=dict(registration.metadata),
            registered_by=registration.partner_id,
        )

    def differences(self, registration: DocumentRegistration) -> list[str]:
        """Declared attributes in which ``registration`` differs from this document."""
        pairs: dict[str, tuple[Any, Any]] = {
            "document_type": (self.document_type, registration.document_type),
            "media_type": (self.media_type, registration.media_type),
            "size_bytes": (self.size_bytes, registration.size_bytes),
            "metadata": (self.metadata, dict(registration.metadata)),
        }
        return [name for name, (old, new) in pairs.items() if old != new]


@dataclass(frozen=True, slots=True)
class DocumentResult:
    """A registration: the document as registered (read-only), the positions written (none for a repeat)."""

    document_id: UUID
    sha256: str
    positions: tuple[int, ...]
    created: bool
    document: Document


class DocumentService:
    """The document registry: registrations against a :class:`LedgerApplication` (no claim is re-verified here:
    :class:`ledger_core.claims.use_cases.Documents` does that)."""

    def __init__(self, app: LedgerApplication) -> None:
        self.app = app

    def register(
        self,
        *,
        partner_id: str,
        sha256: str,
        document_type: str,
        media_type: str,
        size_bytes: int,
        metadata: Mapping[str, str],
    ) -> DocumentResult:
        """Register a document hash; identical re-registration returns ``created=False`` and no positions.

        Raises :class:`DocumentConflict` if the hash is registered with other declared attributes.
        """
        registration = validate_registration(
            partner_id=partner_id,
            sha256=sha256,
            document_type=document_type,
            media_type=media_type,
            size_bytes=size_bytes,
            metadata=metadata,
        )
        existing = self.app.find(Document, registration.document_id)
        if existing is None:
            document = Document.from_registration(registration)
            try:
                positions = save(self.app, document)
                return DocumentResult(document.id, document.sha256, positions, created=True, document=document)
            except ConcurrencyConflict:
                existing = self.app.load(Document, registration.document_id, "document")
        differences = existing.differences(registration)
        if differences:
            raise DocumentConflict(str(existing.id), registration.sha256, differences)
        return DocumentResult(existing.id, existing.sha256, (), created=False, document=existing)

    def get(self, partner_id: str, sha256: str) -> Document:
        """The partner's document with this hash, or :class:`NotFound`."""
        return self.app.load(Document, derive_id("document", partner_id, sha256), "document", sha256)
