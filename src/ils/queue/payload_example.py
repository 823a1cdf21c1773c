"""Example data of a job type, worked out from its payload's JSON schema: the smallest valid JSON
a producer may send (required fields only, each the least value its constraints allow), and the
Python spelling of each field's type. The job types' reference shows both; a test validates
every example against its job type, so the reference never shows data a worker would refuse.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from ils.queue.registry import Payload

#: Strings of a known format, and candidates for a patterned one (the first that fits is used).
FORMATS = {
    "email": "customer@example.com",
    "date": "2026-01-15",
    "date-time": "2026-01-15T08:00:00Z",
    "uri": "https://example.com/hook",
    "uuid": "0b6d1b2e-5a4f-4c1e-9d1a-3f2e6c7b8a90",
}
PATTERNED = ("example", "01JB2K3M4N5P6Q7R8S9T0V1W2X", "EXAMPLE-1")


def example_data(schema: Mapping[str, Any]) -> Any:
    """The payload model's own first example (``json_schema_extra``), where a rule across fields
    needs one; otherwise each required field's own first example, or the least JSON value its
    schema (with its ``$defs``) accepts."""
    if schema.get("examples"):
        return schema["examples"][0]
    return _value(schema, schema.get("$defs", {}))


def _value(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Any:
    if node.get("examples"):  # a field's own example (``Field(examples=[...])``)
        return node["examples"][0]
    if "$ref" in node:
        return _value(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        return _value(options[0], defs) if options else None
    if "enum" in node:
        return node["enum"][0]
    if "const" in node:
        return node["const"]
    kind = node.get("type", "object")
    if kind == "object":
        props = node.get("properties", {})
        return {name: _value(props[name], defs) for name in node.get("required", ())}
    if kind == "array":
        return [_value(node.get("items", {}), defs) for _ in range(max(1, node.get("minItems", 0)))]
    if kind in ("integer", "number"):
        return _number(node, int if kind == "integer" else float)
    if kind == "boolean":
        return False
    return _string(node)


def _number(node: Mapping[str, Any], cast: type[int] | type[float]) -> int | float:
    if "minimum" in node:
        return cast(node["minimum"])
    if "exclusiveMinimum" in node:
        return cast(node["exclusiveMinimum"] + 1)
    return cast(min(1, node.get("maximum", 1)))


def _string(node: Mapping[str, Any]) -> str:
    if node.get("format") in FORMATS:
        return FORMATS[str(node["format"])]
    low, high = int(node.get("minLength", 1)), int(node.get("maxLength", 1 << 30))
    pattern = node.get("pattern")
    for candidate in PATTERNED:
        if low <= len(candidate) <= high and (pattern is None or re.search(pattern, candidate)):
            return candidate
    return "x" * low


def python_type(annotation: Any) -> str:
    """A field's annotation as a reader writes it: ``int``, ``list[str] | None``, ``'R' | 'L'``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return python_type(args[0])
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(python_type(a) for a in args)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else python_type(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def helper_signature(model: type[Payload]) -> str:
    """The keyword arguments of the helper of a job type with payload ``model``."""
    args = []
    for name, info in model.model_fields.items():
        shown = f"{name}: {python_type(info.annotation)}"
        if not info.is_required():
            default = info.get_default(call_default_factory=True)
            shown += f" = {default!r}"
        args.append(shown)
    return "(*, " + ", ".join(args) + ")" if args else "()"
