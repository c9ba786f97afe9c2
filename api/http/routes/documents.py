"""``/api/v1/documents``: register a document by uploading it (hashed as it streams), look one up by hash.

Upload either the raw bytes (``Content-Type`` = the document's media type; ``type`` and optional
``metadata`` in the query) or ``multipart/form-data`` with a ``file`` part and ``type`` / ``metadata``
fields. The bytes are hashed and dropped: the ledger records the SHA-256, size, media type, document
type and metadata. Registering the same hash again with the same attributes returns the existing
registration (200); with different ones it is 409 ``DOCUMENT_CONFLICT``.
"""

from __future__ import annotations

import json
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from api.client.schemas import common as schemas
from api.http import views
from api.http.errors import ApiError
from api.http.routes.claims import IdempotencyKey
from api.http.threads import run_blocking
from api.http.uploads import Upload
from api.runtime import Runtime

DocumentTypeQuery = Annotated[
    str | None,
    QueryParameter(name="type", required=False, description="photo, pdf or form (raw uploads; or a form field)."),
]
MetadataQuery = Annotated[
    str | None,
    QueryParameter(name="metadata", required=False, description='JSON object of strings, e.g. {"camera":"phone"}.'),
]


def _metadata(text: str | None) -> dict[str, str]:
    if text is None or text == "":
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise ApiError("VALIDATION_ERROR", "metadata must be a JSON object of strings", field="metadata") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ApiError("VALIDATION_ERROR", "metadata must be a JSON object of strings", field="metadata")
    return value


class DocumentsController(Controller):
    path = "/documents"
    tags = ("documents",)

    @post(
        "/",
        opt={"scope": "documents:write", "upload": True},
        summary="Upload a document for hashing",
        description=__doc__,
        status_code=201,
    )
    async def upload(
        self,
        upload: NamedDependency[Upload],
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        document_type: DocumentTypeQuery = None,
        metadata: MetadataQuery = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[schemas.DocumentResponse]:
        kind = document_type or upload.fields.get("type")
        if not kind:
            raise ApiError(
                "VALIDATION_ERROR", "the document type is required (query or form field 'type')", field="type"
            )
        declared = _metadata(metadata if metadata is not None else upload.fields.get("metadata"))
        result = await run_blocking(
            lambda: runtime.ledger.documents.register(
                partner_id=partner_id,
                sha256=upload.sha256,
                document_type=kind,
                media_type=upload.media_type,
                size_bytes=upload.size,
                metadata=declared,
            )
        )
        return Response(
            views.document_view(result.document, result.created),
            status_code=201 if result.created else 200,
            headers={"Location": f"/api/v1/documents/{result.sha256}"},
        )

    @get(
        "/{sha256:str}",
        opt={"scope": "documents:read"},
        summary="Verify a document by hash",
        description="The caller's registration of this SHA-256 (64 lowercase hex), or 404 DOCUMENT_NOT_FOUND.",
    )
    async def read(
        self,
        sha256: Annotated[
            str,
            PathParameter(pattern="^[0-9a-f]{64}$", description="SHA-256 of the document, 64 lowercase hex digits."),
        ],
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
    ) -> schemas.DocumentResponse:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ApiError("VALIDATION_ERROR", "the hash must be 64 lowercase hex digits", field="sha256")
        document = await run_blocking(runtime.ledger.documents.get, partner_id, sha256)
        return views.document_view(document, False)
