"""Documents registered by SHA-256: validation and idempotent re-registration."""

from __future__ import annotations

from typing import Any

import pytest

from ledger_core.claims.documents import Document, DocumentService, validate_registration
from ledger_core.claims.errors import DocumentConflict
from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.errors import InvalidCommand, NotFound

from .fakes import FakeApp, replay, state

SHA = "0f" * 32


def fields(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "partner_id": "acme_insurance",
        "sha256": SHA,
        "document_type": "pdf",
        "media_type": "application/PDF",
        "size_bytes": 52_133,
        "metadata": {"filename": "police-report.pdf"},
    }
    return {**base, **overrides}


def test_register() -> None:
    """Registration records hash, type, lower-cased media type, size, metadata and the registering partner."""
    document = Document.register(**fields())
    [event] = document.collect_events()
    assert isinstance(event, Document.Registered)
    assert type(event).EVENT_TYPE == "document.registered"
    assert document.id == derive_id("document", "acme_insurance", SHA)
    assert (event.sha256, event.document_type, event.media_type, event.size_bytes) == (
        SHA,
        "pdf",
        "application/pdf",
        52_133,
    )
    assert event.registered_by == event.partner_id == "acme_insurance"
    assert state(replay([event])) == state(document)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"sha256": SHA.upper()}, "sha256"),
        ({"document_type": "video"}, "document_type"),
        ({"media_type": "pdf"}, "media_type"),
        ({"media_type": "text/plain; charset=utf-8", "document_type": "form"}, "media_type"),
        ({"media_type": "image/png"}, "media_type"),
        ({"document_type": "photo"}, "media_type"),
        ({"size_bytes": -1}, "size_bytes"),
        ({"size_bytes": 11 * 1024**3}, "size_bytes"),
        ({"size_bytes": "10"}, "size_bytes"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"partner_id": "x"}, "partner_id"),
    ],
)
def test_validation(override: dict[str, Any], field: str) -> None:
    """Each invalid attribute raises InvalidCommand naming the field."""
    with pytest.raises(InvalidCommand) as caught:
        Document.register(**fields(**override))
    assert caught.value.details["field"] == field


def test_media_type_fits_document_type() -> None:
    """Photos are images and forms may be anything."""
    assert Document.register(**fields(document_type="photo", media_type="image/jpeg")).media_type == "image/jpeg"
    assert Document.register(**fields(document_type="form", media_type="application/pdf")).media_type


def test_differences() -> None:
    """differences() names the declared attributes that changed."""
    document = Document.register(**fields())
    assert document.differences(validate_registration(**fields(media_type="application/pdf"))) == []
    changed = validate_registration(**fields(size_bytes=1, metadata={}))
    assert document.differences(changed) == ["size_bytes", "metadata"]


def test_service_register_is_idempotent() -> None:
    """Re-registering identically records nothing; different attributes raise DocumentConflict."""
    app = FakeApp()
    service = DocumentService(app)  # type: ignore[arg-type]
    first = service.register(**fields())
    assert first.created
    assert first.positions == (0,)
    again = service.register(**fields())
    assert (again.document_id, again.created, again.positions) == (first.document_id, False, ())
    with pytest.raises(DocumentConflict) as caught:
        service.register(**fields(size_bytes=7))
    assert caught.value.details["differing_fields"] == ["size_bytes"]
    assert caught.value.details["sha256"] == SHA
    assert service.get("acme_insurance", SHA).size_bytes == 52_133
    with pytest.raises(NotFound):
        service.get("other_partner", SHA)
    other = service.register(**fields(partner_id="other_partner"))
    assert other.created
    assert other.document_id != first.document_id
