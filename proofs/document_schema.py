"""The JSON Schema of the proof documents (``proof-document.schema.json`` beside this file).

The file is the one source: the HTTP app serves it at ``/schema/proof-document.schema.json`` (next
to the OpenAPI document), docs/proof-document.schema.json is a checked-in copy (a test keeps them
equal), and the SDK's wheel ships it with ``proofs``.
"""

from __future__ import annotations

from importlib.resources import files

SCHEMA_FILE = "proof-document.schema.json"


def proof_document_schema() -> bytes:
    """The schema's exact bytes."""
    return files("proofs").joinpath(SCHEMA_FILE).read_bytes()
