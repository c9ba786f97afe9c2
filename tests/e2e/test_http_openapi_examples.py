"""The served OpenAPI document: every schema and operation has examples that validate, and it stays small.

The examples come from ``api/http/openapi_examples.json`` (:mod:`api.http.openapi_examples`); a route
added later without examples for its shapes fails here. Validation is JSON Schema 2020-12 (what OpenAPI
3.1 schemas are) with formats checked, and strict: every object schema that lists its properties is
closed for the check, so an example with a misspelt field fails instead of passing unnoticed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from litestar.testing import TestClient

from api.app import create_app
from api.http.openapi_examples import CATALOGUE
from api.settings import Settings, StorageSection

METHODS = ("get", "post", "put", "patch", "delete")
MAX_DOCUMENT_BYTES = 400_000  # 300 KB before SSO and feeds added ~20 operations (issue 16)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings = Settings(storage=StorageSection(data_dir=tmp_path_factory.mktemp("openapi") / "data"))
    with TestClient(create_app(settings)) as client:
        response = client.get("/schema/openapi.json")
        assert response.status_code == 200
        yield response.json()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A response or header object, following its ``$ref`` into ``components``."""
    while "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = document["components"][section][name]
    return node


def closed(components: dict[str, Any]) -> dict[str, Any]:
    """The component schemas with every object that lists its properties closed to others."""
    schemas = copy.deepcopy(components["schemas"])

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schemas)
    return dict(schemas)


def check(document: dict[str, Any], schema: dict[str, Any], example: Any, where: str) -> None:
    root = {**schema, "components": {"schemas": closed(document["components"])}}
    errors = sorted(
        Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER).iter_errors(example),
        key=str,
    )
    assert not errors, f"{where}: {errors[0].message} at {list(errors[0].absolute_path)}"


def media_examples(document: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The content's own examples, else those of the component schema it refers to (what UIs show)."""
    found = [media["example"]] if "example" in media else []
    found += [entry["value"] for entry in media.get("examples", {}).values()]
    reference = media["schema"].get("$ref")
    if not found and reference is not None:
        found = list(resolve(document, {"$ref": reference}).get("examples", []))
    return found


def test_every_schema_has_a_description_and_a_valid_example(document: dict[str, Any]) -> None:
    """Each component schema is described and carries an example that validates against it."""
    for name, schema in document["components"]["schemas"].items():
        assert schema.get("description"), f"schema {name} has no description"
        assert schema.get("examples"), f"schema {name} has no example (api/http/openapi_examples.json)"
        for example in schema["examples"]:
            check(document, {"$ref": f"#/components/schemas/{name}"}, example, f"schema {name}")


def test_every_field_is_described(document: dict[str, Any]) -> None:
    """Every field of every schema is described; required fields and enums are in the schema."""
    for name, schema in document["components"]["schemas"].items():
        for field, spec in schema.get("properties", {}).items():
            assert spec.get("description"), f"schema {name}: field {field} has no description"
    submission = document["components"]["schemas"]["ClaimSubmission"]
    assert {"documents", "verificationLevel"} <= set(submission["required"])
    document_body = document["components"]["schemas"]["ClaimDocumentBody"]
    assert document_body["properties"]["type"]["enum"] == ["photo", "pdf", "form"]


def test_every_operation_has_request_and_response_examples_that_validate(document: dict[str, Any]) -> None:
    """Each body an operation reads or answers (errors included) has an example valid against its schema."""
    count = 0
    for key, operation in operations(document):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            examples = media_examples(document, media)
            assert examples, f"{key}: request {media_type} has no example"
            for example in examples:
                check(document, media["schema"], example, f"{key} request {media_type}")
                count += 1
        assert any(status.startswith(("2", "3")) for status in operation["responses"]), key  # 3xx: SSO redirects
        for status in operation["responses"]:
            if status.startswith("3"):
                response = resolve(document, operation["responses"][status])
                assert "Location" in response["headers"], f"{key} {status}"
                assert not response.get("content"), f"{key} {status}: a redirect has no body"
        for status, reference in operation["responses"].items():
            response = resolve(document, reference)
            for media_type, media in (response.get("content") or {}).items():
                examples = media_examples(document, media)
                assert examples, f"{key}: response {status} {media_type} has no example"
                for example in examples:
                    check(document, media["schema"], example, f"{key} {status} {media_type}")
                    count += 1
    assert count > 100


def test_error_examples_are_the_served_envelope(document: dict[str, Any]) -> None:
    """The error examples name their code and point to the error reference this server serves."""
    response = resolve(document, document["paths"]["/api/v1/claims"]["post"]["responses"]["404"])
    examples = response["content"]["application/json"]["examples"]
    assert "CLAIM_NOT_FOUND" in examples
    error = examples["CLAIM_NOT_FOUND"]["value"]["error"]
    assert error["code"] == "CLAIM_NOT_FOUND"
    assert error["documentation"].endswith("/docs/errors#CLAIM_NOT_FOUND")


def test_the_document_is_small_and_shares_what_repeats(document: dict[str, Any]) -> None:
    """Headers and error responses are components referred to, not copied into each of 40+ operations."""
    size = len(json.dumps(document, separators=(",", ":")))
    assert size < MAX_DOCUMENT_BYTES, size
    for key, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and "content" in response:
                assert (key, status) == ("GET /ready", "503"), f"{key} {status} is not a shared response"
            for header in response.get("headers", {}).values():
                assert "$ref" in header, f"{key} {status}: header copied, not referred to"


def test_the_catalogue_names_only_what_exists(document: dict[str, Any]) -> None:
    """No stale entry: every schema and operation the catalogue describes is in the document."""
    catalogue = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    assert set(catalogue["schemas"]) <= set(document["components"]["schemas"])
    assert set(catalogue["operations"]) <= {key for key, _ in operations(document)}
