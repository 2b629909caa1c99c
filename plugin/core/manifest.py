"""Loading the escalation manifest: a JSON file or dict -> one frozen ``Manifest``, or every error.

``load_manifest(path_or_dict)`` validates in two passes and raises ``ManifestError`` listing
``(json_path, message)`` pairs such as ``triggers[2].conditions.all[0].operator``:

1. structure (``manifest_schema``): unknown keys, wrong types, unknown fields / operators / values;
2. meaning (``manifest_checks``): references that do not exist, template syntax, contradictory
   ``all`` lists, triggers whose actions do nothing, triggers that contradict each other.

Then it builds the ``Manifest`` (``manifest_model``) and compiles its triggers
(``compile_program``). ``Manifest.version`` is a content hash of the document;
``Manifest.label`` is the free-form ``version`` the author wrote.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from marshmallow import ValidationError

from tiergate.plugin.core.condition_compile import Group, compile_all, compile_group
from tiergate.plugin.core.errors import ManifestError
from tiergate.plugin.core.manifest_checks import flatten_errors, semantic_errors
from tiergate.plugin.core.manifest_layers import resolve
from tiergate.plugin.core.manifest_model import Condition, Manifest, Team, Tier, Trigger
from tiergate.plugin.core.manifest_schema import ManifestSchema
from tiergate.plugin.core.sla_schema import check_references

SHIPPED_DATA_PACKAGE = "tiergate.plugin.data"     # holds default_manifest.json and the demo's site file


def shipped_path(name: str) -> Path:
    """Filesystem path of a file shipped in the package data (``tiergate.plugin.data``)."""
    return Path(str(resources.files(SHIPPED_DATA_PACKAGE).joinpath(name)))


@lru_cache(maxsize=4)
def read_shipped(name: str) -> Any:
    """A JSON file shipped in the package data, parsed once per process (do not modify it)."""
    return json.loads(shipped_path(name).read_text(encoding="utf-8"))


def content_hash(doc: Mapping[str, Any]) -> str:
    canon = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()[:12]


def read_document(path_or_dict: Any) -> dict[str, Any]:
    """A manifest file (or dict) -> plain dict; unreadable / non-JSON -> ManifestError."""
    if isinstance(path_or_dict, Mapping):
        return resolve(json.loads(json.dumps(path_or_dict)), read_shipped)
    path = Path(path_or_dict)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError([("", f"cannot read {path}: {exc.strerror or exc}")]) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError([("", f"not valid JSON: line {exc.lineno} column {exc.colno}: "
                                  f"{exc.msg}")]) from None
    if not isinstance(doc, dict):
        raise ManifestError([("", "the manifest must be a JSON object")])
    return resolve(doc, read_shipped)


def load_manifest(path_or_dict: Any) -> Manifest:
    """Validate and build the manifest; raises ManifestError with every error found."""
    doc = read_document(path_or_dict)
    errors: list[tuple[str, str]] = []
    data: dict[str, Any] | None = None
    try:
        data = ManifestSchema().load(doc)
    except ValidationError as exc:
        flatten_errors(exc.messages, ManifestSchema(), "", errors)
    errors.extend(semantic_errors(doc))
    if data is not None and not any(p.startswith(("sla", "calendars")) for p, _ in errors):
        errors.extend(check_references(data["sla"], data["calendars"]))
    if errors:
        seen: set[tuple[str, str]] = set()
        uniq = [e for e in errors if not (e in seen or seen.add(e))]
        raise ManifestError(uniq)
    assert data is not None
    return _build(doc, data)


def _build(doc: Mapping[str, Any], data: Mapping[str, Any]) -> Manifest:
    tiers = {n: Tier(name=n, **t) for n, t in sorted(data["tiers"].items(),
                                                      key=lambda kv: kv[1]["order"])}
    teams = {n: Team(name=n, **t) for n, t in data["teams"].items()}
    index: dict[int, tuple[str, str]] = {t.group_id: ("tier", n) for n, t in tiers.items()}
    index.update({t.group_id: ("team", n) for n, t in teams.items()})
    trigs = tuple(Trigger(name=t["name"], conditions=t["conditions"], actions=t["actions"],
                          description=t["description"], enabled=t["enabled"], index=i)
                  for i, t in enumerate(data["triggers"]))
    m = Manifest(
        version=content_hash(doc), label=data["version"], schema_url=data["schema_url"],
        changelog=data["changelog"], helpdesk=data["helpdesk"],
        tiers=MappingProxyType(tiers), teams=MappingProxyType(teams),
        authority=data["authority"],
        keywords=MappingProxyType({k: tuple(v) for k, v in data["keywords"].items()}),
        nlp=data["nlp"], calendars=MappingProxyType(dict(data["calendars"])), sla=data["sla"],
        oncall=data["oncall"], templates=MappingProxyType(dict(data["templates"])),
        triggers=trigs, review=data["review"], handoff=data["handoff"],
        risk_tags=MappingProxyType(dict(data["risk_tags"])), source=MappingProxyType(dict(doc)),
        group_index=MappingProxyType(index))
    program = compile_program(m)
    object.__setattr__(m, "program", program)
    object.__setattr__(m, "evaluate", compile_all([ct.group for ct in program]))
    return m


@dataclass(frozen=True)
class CompiledTrigger:
    trigger: Trigger
    group: Group
    has_timers: bool


def compile_program(m: Manifest) -> tuple[CompiledTrigger, ...]:
    out = []
    for t in m.triggers:
        if not t.enabled:
            continue
        group = compile_group({"all": [_cond_dict(c) for c in t.conditions.all],
                                 "any": [_cond_dict(c) for c in t.conditions.any]},
                                f"triggers[{t.index}].conditions", m)
        timed = any(c.flip_at is not None for c in group.all + group.any)
        out.append(CompiledTrigger(t, group, timed))
    return tuple(out)


def _cond_dict(c: Condition) -> dict[str, Any]:
    v = list(c.value) if isinstance(c.value, tuple) else c.value
    return {"field": c.field, "operator": c.operator, "value": v, **dict(c.params)}


def default_manifest_path() -> Path:
    """The manifest shipped in the wheel (package data of ``tiergate.plugin.data``)."""
    return shipped_path("manifest.json")
