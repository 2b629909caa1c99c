"""The manifest's JSON Schema (draft 2020-12), generated from its marshmallow schemas.

``json_schema()`` backs ``tiergate schema``: every field with its type, allowed values, bounds
and description, plus per-action parameters and per-field operators as ``if`` / ``then`` rules.
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from tiergate.plugin.core.calendar_schema import CalendarSchema, CalendarsField
from tiergate.plugin.core.condition_fields import (ALL_OPERATORS, AMOUNT_KINDS, SLA_METRICS,
                                                   field_spec, fixed_field_names)
from tiergate.plugin.core.manifest_schema import ACTION_PARAMS, ManifestSchema
from tiergate.plugin.core.manifest_layers import site_file_schema


def json_schema() -> dict[str, Any]:
    """Draft 2020-12 JSON Schema of the manifest, generated from the marshmallow schemas."""
    defs: dict[str, Any] = {}
    root = _schema_obj(ManifestSchema(), defs)
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "$id": "https://tiergate.dev/schema/manifest.json", "title": "tiergate manifest",
           "description": (ManifestSchema.__doc__ or "").strip(), **root, "$defs": defs}
    out["$defs"]["Action"]["allOf"] = [
        {"if": {"properties": {"action": {"const": k}}},
         "then": {"required": ["action"] + [p for p, req in v.items() if req],
                  "properties": {p: True for p in ["action", *v]},
                  "additionalProperties": False}} for k, v in ACTION_PARAMS.items()]
    out["$defs"]["Condition"]["properties"]["operator"]["enum"] = list(ALL_OPERATORS)
    metrics = "|".join(SLA_METRICS)
    out["$defs"]["Condition"]["properties"]["field"]["anyOf"] = [
        {"enum": fixed_field_names()}, {"pattern": r"^custom\..+$"},
        {"pattern": r"^amount\.(" + "|".join(AMOUNT_KINDS) + ")$"},
        {"pattern": r"^sla\.(" + metrics + r")\.(pct_elapsed|breached|remaining_minutes|paused)$"}]
    out["$defs"]["Condition"]["allOf"] = [
        {"if": {"properties": {"field": {"const": name}}},
         "then": {"properties": {"operator": {"enum": list(field_spec(name).operators)}}}}
        for name in fixed_field_names()]
    return site_file_schema(out)


def _schema_obj(schema: Schema, defs: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, f in schema.fields.items():
        key = f.data_key or name
        props[key] = _field_schema(f, defs)
        if f.required:
            required.append(key)
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _ref(schema: Schema, defs: dict[str, Any]) -> dict[str, Any]:
    name = type(schema).__name__.removesuffix("Schema") or type(schema).__name__
    if name not in defs:
        defs[name] = {}
        body = _schema_obj(schema, defs)
        doc = (type(schema).__doc__ or "").strip()
        if doc and not doc.startswith("Base"):
            body["description"] = doc.splitlines()[0]
        defs[name] = body
    return {"$ref": f"#/$defs/{name}"}


def _field_schema(f: fields.Field, defs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any]
    if isinstance(f, fields.Nested):
        out = _ref(f.schema, defs)
    elif isinstance(f, CalendarsField):
        out = {"type": "object", "additionalProperties": _ref(CalendarSchema(), defs)}
    elif isinstance(f, fields.List):
        out = {"type": "array", "items": _field_schema(f.inner, defs)}
    elif isinstance(f, fields.Dict):
        vf = f.value_field
        out = {"type": "object", "additionalProperties": _field_schema(vf, defs) if vf else True}
        kf = f.key_field
        if kf is not None:
            pat = _pattern(kf)
            if pat:
                out["propertyNames"] = {"pattern": pat}
    elif isinstance(f, fields.Boolean):
        out = {"type": "boolean"}
    elif isinstance(f, fields.Integer):
        out = {"type": "integer"}
    elif isinstance(f, (fields.Float, fields.Number)):
        out = {"type": "number"}
    elif isinstance(f, fields.Date):
        out = {"type": "string", "format": "date"}
    elif isinstance(f, fields.String):
        out = {"type": "string"}
    else:
        out = {}
    for v in _validators(f):
        if isinstance(v, validate.OneOf):
            out["enum"] = list(v.choices)
        elif isinstance(v, validate.Range):
            if v.min is not None:
                out["minimum" if v.min_inclusive else "exclusiveMinimum"] = v.min
            if v.max is not None:
                out["maximum" if v.max_inclusive else "exclusiveMaximum"] = v.max
        elif isinstance(v, validate.Regexp):
            out["pattern"] = v.regex.pattern
        elif isinstance(v, validate.Length):
            lo, hi = ("minItems", "maxItems") if out.get("type") == "array" else \
                ("minProperties", "maxProperties") if out.get("type") == "object" else \
                ("minLength", "maxLength")
            if v.equal is not None:
                out[lo] = out[hi] = v.equal
            else:
                if v.min is not None:
                    out[lo] = v.min
                if v.max is not None:
                    out[hi] = v.max
    if f.allow_none and "$ref" not in out and "type" in out:
        out["type"] = [out["type"], "null"]
    desc = (f.metadata or {}).get("description")
    if desc:
        out = {**out, "description": desc} if "$ref" not in out else \
            {"allOf": [out], "description": desc}
    return out


def _validators(f: fields.Field) -> list[Any]:
    return list(getattr(f, "validators", []) or [])


def _pattern(f: fields.Field) -> str | None:
    for v in _validators(f):
        if isinstance(v, validate.Regexp):
            return v.regex.pattern
    return None
