"""``/schema/proof-document.schema.json``: the JSON Schema of every proof document, beside the OpenAPI
document (unauthenticated, like it). See docs/proofs.md, "The proof document format"."""

from __future__ import annotations

from litestar import Controller, Response, get

from proofs.document_schema import proof_document_schema

SCHEMA_MEDIA_TYPE = "application/schema+json"


class ProofSchemaController(Controller):
    path = "/schema"
    tags = ("audit",)

    @get(
        "/proof-document.schema.json",
        summary="JSON Schema of the proof documents",
        description="Inclusion and consistency proofs, audit bundles and history proofs: one versioned format.",
        media_type=SCHEMA_MEDIA_TYPE,
        cache=3600,
        include_in_schema=False,  # a document beside the OpenAPI one, like /schema/openapi.json itself
    )
    async def proof_document_schema(self) -> Response[bytes]:
        return Response(proof_document_schema(), media_type=SCHEMA_MEDIA_TYPE)
