"""Errors name fields as the client wrote them: the wire name, where it was sent, messages to match.

The domain validates with its own (Python) names (``claim_amount``, ``documents[0].type``); Litestar
reports a missing body field as ``data`` with the real name in its message, a query parameter by its
Python name (``event_type`` for ``?type=``) and its place as a Python enum (``ParamType.QUERY``). The
wire differs per route: claims are camelCase (seed 000), the seed 001 routes snake_case. So the names
are resolved against the route that failed (:func:`wire_problem`, called by the exception handler of
:mod:`api.http.errors`):

* a body field through the route's body shape: each struct field's encoded name
  (``msgspec`` ``__struct_encode_fields__``), following lists and nested structs (``documents[0].type``);
* a parameter through the handler's signature: the name it is read from (``type``, ``Idempotency-Key``);
* ``source`` is ``body``, ``query``, ``path`` or ``header``;
* a domain ``VALIDATION_ERROR`` (``details.field``) and Litestar's list (``details.fields[*]``) alike;
  a message naming the domain field is rewritten with the wire name.

A name found nowhere is left as it is (an error outside any route, or a field that is not a request
field, such as a rule's).
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Union, get_args, get_origin

import msgspec
from litestar.handlers import BaseRouteHandler
from litestar.params import BodyKwarg

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_MISSING = re.compile(r"^Object missing required field `([^`]+)`")
_BODY = "body"


@dataclass(frozen=True, slots=True)
class Parameter:
    """A parameter as sent: its wire name and where (``query``, ``path``, ``header``, ``cookie``)."""

    wire: str
    source: str


@dataclass(frozen=True, slots=True)
class RouteNames:
    """What one route reads: its body shape (a msgspec Struct, or None) and its parameters by Python name."""

    body: Any
    parameters: Mapping[str, Parameter]

    def resolve(self, name: str) -> tuple[str, str | None]:
        """``(wire path, source)`` of a domain or Python field path (source None when not found)."""
        if name in self.parameters:
            parameter = self.parameters[name]
            return parameter.wire, parameter.source
        if any(parameter.wire == name for parameter in self.parameters.values()):
            return name, next(p.source for p in self.parameters.values() if p.wire == name)
        wire = _body_path(self.body, name)
        return (wire, _BODY) if wire is not None else (name, None)


def route_names(handler: BaseRouteHandler) -> RouteNames:
    """The names of ``handler``'s body fields and parameters."""
    dependencies = set(handler.resolve_dependencies())
    body: Any = None
    parameters: dict[str, Parameter] = {}
    for name, field in handler.parsed_fn_signature.parameters.items():
        kwarg = field.kwarg_definition
        if isinstance(kwarg, BodyKwarg) or name == "data":
            body = _unwrap(field.type_)
        elif name not in dependencies and kwarg is not None and hasattr(kwarg, "param_type"):
            wire = getattr(kwarg, "header", None) or getattr(kwarg, "query", None) or getattr(kwarg, "name", None)
            source = kwarg.param_type.value if isinstance(kwarg.param_type, Enum) else str(kwarg.param_type)
            parameters[name] = Parameter(wire or name, source)
    return RouteNames(body, parameters)


def wire_problem(
    code: str, message: str, details: Mapping[str, Any], handler: BaseRouteHandler | None
) -> tuple[str, dict[str, Any]]:
    """An error's message and details with field names, sources and messages in the route's wire names."""
    renamed_details = dict(details)
    names = route_names(handler) if handler is not None else RouteNames(None, {})
    if isinstance(details.get("fields"), list):
        renamed_details["fields"] = [_framework_field(item, names) for item in details["fields"]]
    if isinstance(details.get("field"), str):
        domain = details["field"]
        wire, source = names.resolve(domain)
        renamed_details["field"] = wire
        if source is not None and code == "VALIDATION_ERROR":
            renamed_details.setdefault("source", source)
        message = _rename(message, domain, wire)
    if isinstance(details.get("differing_fields"), list):  # DUPLICATE_CLAIM / DOCUMENT_CONFLICT
        renamed = [names.resolve(str(name))[0] for name in details["differing_fields"]]
        for domain, wire in zip(details["differing_fields"], renamed, strict=True):
            message = _rename(message, str(domain), wire)
        renamed_details["differing_fields"] = renamed
    return message, renamed_details


def _framework_field(item: Any, names: RouteNames) -> Any:
    """One of Litestar's ``{field, message, source}``: a real field name and a plain source."""
    if not isinstance(item, dict):
        return item
    field, message, source = str(item.get("field", "")), str(item.get("message", "")), item.get("source")
    source_text = source.value if isinstance(source, Enum) else str(source) if source is not None else None
    missing = _MISSING.match(message)
    if source_text in (None, "None", _BODY) and (field == "data" or field.startswith("data.") or missing):
        path = "" if field == "data" else field.removeprefix("data.")
        if missing:
            path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        return {"field": path, "message": message, "source": _BODY}
    wire, resolved = names.resolve(field)
    return {"field": wire, "message": message, "source": resolved or source_text or _BODY}


def _rename(message: str, domain: str, wire: str) -> str:
    if domain == wire:
        return message
    return re.sub(rf"(?<![\w.\[]){re.escape(domain)}(?![\w])", wire, message)


def _body_path(shape: Any, name: str) -> str | None:
    """The wire path of ``name`` (``documents[0].claim_type``) in ``shape``, or None when it is not a body field."""
    if shape is None:
        return None
    parts: list[str] = []
    current: Any = shape
    for match in _SEGMENT.finditer(name):
        key, index = match.group(1), match.group(2)
        if index is not None:
            parts.append(f"[{index}]")
            current = _item_type(current)
            continue
        struct = _unwrap(current)
        if isinstance(struct, type) and issubclass(struct, msgspec.Struct):
            fields = dict(zip(struct.__struct_fields__, struct.__struct_encode_fields__, strict=True))
            if key in fields.values():
                key = next(python for python, wire in fields.items() if wire == key)
            if key not in fields:
                return None
            parts.append(("." if parts else "") + fields[key])
            current = _field_type(struct, key)
        else:  # inside a free-form object (metadata): the rest is the client's own keys
            parts.append(("." if parts else "") + key)
            current = None
    return "".join(parts) if parts else None


def _field_type(struct: type[msgspec.Struct], name: str) -> Any:
    info = msgspec.inspect.type_info(struct)
    fields = info.fields if isinstance(info, msgspec.inspect.StructType) else ()
    return next((field.type for field in fields if field.name == name), None)


def _unwrap(kind: Any) -> Any:
    """The Struct inside ``Optional``/``Annotated``/msgspec type info, else ``kind`` itself."""
    if isinstance(kind, msgspec.inspect.StructType):
        return kind.cls
    if isinstance(kind, msgspec.inspect.UnionType):
        for member in kind.types:
            if not isinstance(member, msgspec.inspect.NoneType):
                return _unwrap(member)
    if get_origin(kind) in (Union, types.UnionType):
        return next((_unwrap(arg) for arg in get_args(kind) if arg is not type(None)), kind)
    return kind


def _item_type(kind: Any) -> Any:
    kind = _unwrap(kind)
    if isinstance(kind, msgspec.inspect.ListType | msgspec.inspect.SetType | msgspec.inspect.VarTupleType):
        return kind.item_type
    return None
