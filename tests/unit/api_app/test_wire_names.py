"""Field names in errors are resolved against the failed route: body shape and parameters."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from api.app import create_app
from api.client.schemas.common import ClaimSubmission
from api.client.schemas.members import MemberRecord
from api.http.wire_names import Parameter, RouteNames, route_names, wire_problem
from api.settings import Settings, StorageSection

CLAIMS = RouteNames(ClaimSubmission, {})


def handler_of(app: Litestar, path: str, method: str) -> HTTPRouteHandler:
    for route in app.routes:
        if route.path == path:
            for handler in getattr(route, "route_handlers", []):
                if method in handler.http_methods:
                    return handler  # type: ignore[no-any-return]
    raise LookupError(path)


def test_body_paths_follow_structs_lists_and_free_objects() -> None:
    """Python names become the encoded names, through list items and into metadata keys."""
    assert CLAIMS.resolve("claim_amount") == ("claimAmount", "body")
    assert CLAIMS.resolve("documents[0].type") == ("documents[0].type", "body")
    assert CLAIMS.resolve("documents[2].metadata.camera_model") == ("documents[2].metadata.camera_model", "body")
    assert CLAIMS.resolve("verificationLevel") == ("verificationLevel", "body")  # already a wire name
    assert CLAIMS.resolve("rule") == ("rule", None)  # not a request field: unchanged, no source


def test_snake_case_shapes_keep_their_names() -> None:
    """The seed 001 records are snake_case on the wire: nothing is camelCased."""
    assert RouteNames(MemberRecord, {}).resolve("date_of_birth") == ("date_of_birth", "body")


def test_parameters_take_the_name_they_are_read_from(tmp_path: Path) -> None:
    """``event_type`` is read from ``?type=``; dependencies are not parameters."""
    app = create_app(Settings(storage=StorageSection(data_dir=tmp_path / "data")))
    names = route_names(handler_of(app, "/api/v1/audit/logs", "GET"))
    assert names.parameters["event_type"] == Parameter("type", "query")
    assert names.parameters["limit"] == Parameter("limit", "query")
    assert "runtime" not in names.parameters
    assert "partner_id" not in names.parameters
    submit = route_names(handler_of(app, "/api/v1/claims", "POST"))
    assert submit.body is ClaimSubmission
    assert submit.parameters["idempotency_key"] == Parameter("Idempotency-Key", "header")


def test_messages_and_framework_lists_are_renamed() -> None:
    """A domain message and Litestar's ``data`` entries name the wire field; sources are plain words."""
    message, details = wire_problem(
        "VALIDATION_ERROR", "claim_amount must not be negative", {"field": "claim_amount"}, None
    )
    assert (message, details) == ("claim_amount must not be negative", {"field": "claim_amount"})  # no route
    fields = [
        {"field": "data", "message": "Object missing required field `documents`", "source": "body"},
        {"field": "documents[0]", "message": "Object missing required field `hash`", "source": "body"},
    ]
    _, renamed = wire_problem("VALIDATION_ERROR", "request validation failed", {"fields": fields}, None)
    assert [item["field"] for item in renamed["fields"]] == ["documents", "documents[0].hash"]
