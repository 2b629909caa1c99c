"""Layered manifests: a site file that ``extends`` the shipped defaults, merged into one document.

A site file names its base with ``"extends": "tiergate:default"`` (the full document shipped in
``tiergate.plugin.data``) and holds only what differs. ``resolve(doc, read)`` returns the
effective document, which is then validated like any full manifest; a document without
``extends`` is returned as it is. The rules, applied from the top of the two documents down:

- ``$schema``, ``version`` and ``changelog`` come from the site file alone (absent there: absent);
  ``extends`` itself is not part of the effective document.
- objects merge key by key, recursively: a key only in the defaults stays, a key in the site file
  wins (merged again when both values are objects);
- lists of named items (every item on both sides an object with a string ``name``: triggers, SLA
  policies, their ``tighten`` steps) merge by name: a site item patches the default item of the
  same name (by these same rules, so ``{"name": "x", "enabled": false}`` disables trigger x),
  ``{"name": "x", "remove": true}`` removes it, and a site item with a new name is appended
  after the default items; default items keep their order;
- every other list (an empty one too), every scalar and ``null`` replaces the default value.

Pure: the shipped document comes through the ``read`` callable (file name -> parsed JSON).
``site_file_schema(schema)`` extends the full document's JSON Schema to site files.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

from tiergate.plugin.core.errors import ManifestError

EXTENDS = "extends"
BASES: Mapping[str, str] = {"tiergate:default": "default_manifest.json"}
SITE_ONLY = ("$schema", "version", "changelog")
NAME = "name"
REMOVE = "remove"


def resolve(doc: Mapping[str, Any], read: Callable[[str], Mapping[str, Any]]) -> dict[str, Any]:
    """The effective document: ``doc`` merged over the base its ``extends`` names, else ``doc``."""
    if EXTENDS not in doc:
        return dict(doc)
    target = doc[EXTENDS]
    if not isinstance(target, str) or target not in BASES:
        known = ", ".join(f"'{b}'" for b in BASES)
        raise ManifestError([(EXTENDS, f"unknown base {target!r}; known: {known}")])
    site = {k: v for k, v in doc.items() if k != EXTENDS}
    return merge_documents(read(BASES[target]), site)


def merge_documents(base: Mapping[str, Any], site: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a site document over a full base document (rules in the module docstring)."""
    errors: list[tuple[str, str]] = []
    body = {k: v for k, v in base.items() if k not in SITE_ONLY}
    out = _merge_objects(body, {k: v for k, v in site.items() if k not in SITE_ONLY}, "", errors)
    if errors:
        raise ManifestError(errors)
    head = {k: copy.deepcopy(site[k]) for k in SITE_ONLY if k in site}
    return {**head, **out}


def merge(base: Any, site: Any, path: str = "") -> Any:
    """Merge one site value over one default value; ManifestError on a bad removal."""
    errors: list[tuple[str, str]] = []
    out = _merge(base, site, path, errors)
    if errors:
        raise ManifestError(errors)
    return out


def _merge(base: Any, site: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    if isinstance(base, dict) and isinstance(site, dict):
        return _merge_objects(base, site, path, errors)
    if isinstance(base, list) and isinstance(site, list) and site and _named(base) and \
            _named(site):
        return _merge_named(base, site, path, errors)
    if isinstance(site, list):
        _no_removals(site, path, errors)
    return copy.deepcopy(site)


def _merge_objects(base: Mapping[str, Any], site: Mapping[str, Any], path: str,
                   errors: list[tuple[str, str]]) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in base.items()}
    for key, value in site.items():
        where = f"{path}.{key}" if path else key
        out[key] = _merge(base[key], value, where, errors) if key in base else \
            _fresh(value, where, errors)
    return out


def _merge_named(base: list[Any], site: list[Any], path: str,
                 errors: list[tuple[str, str]]) -> list[Any]:
    out = [copy.deepcopy(item) for item in base]
    position = {item[NAME]: i for i, item in enumerate(base)}
    removed: set[int] = set()
    for j, item in enumerate(site):
        where = f"{path}[{j}]"
        i = position.get(item[NAME])
        if REMOVE in item:
            if item[REMOVE] is not True or set(item) != {NAME, REMOVE}:
                errors.append((f"{where}.{REMOVE}", f"a removal is {{\"{NAME}\": ..., "
                                                    f"\"{REMOVE}\": true}} and nothing else"))
            elif i is None:
                errors.append((where, f"nothing named '{item[NAME]}' in the defaults to remove"))
            else:
                removed.add(i)
        elif i is not None:
            out[i] = _merge_objects(out[i], item, where, errors)
        else:
            position[item[NAME]] = len(out)
            out.append(_fresh(item, where, errors))
    return [item for i, item in enumerate(out) if i not in removed]


def _fresh(value: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    """A site value with no default counterpart: taken as it is (a removal there is an error)."""
    if isinstance(value, dict):
        return {k: _fresh(v, f"{path}.{k}", errors) for k, v in value.items()}
    if isinstance(value, list):
        _no_removals(value, path, errors)
    return copy.deepcopy(value)


def _no_removals(items: list[Any], path: str, errors: list[tuple[str, str]]) -> None:
    for j, item in enumerate(items):
        if isinstance(item, dict) and REMOVE in item:
            errors.append((f"{path}[{j}].{REMOVE}", "only items of a list of named items that "
                                                    "the defaults also have can be removed"))


def _named(items: list[Any]) -> bool:
    return all(isinstance(x, dict) and isinstance(x.get(NAME), str) for x in items)


# --------------------------------------------------------------------------------------------
# JSON Schema: the full document or a site file
# --------------------------------------------------------------------------------------------
PATCH = "Patch"


def site_file_schema(full: Mapping[str, Any]) -> dict[str, Any]:
    """The full document's JSON Schema widened to site files too.

    The root's ``properties`` become the site-file shape (every section and every key of an
    object optional, items of named lists patchable by ``name``, ``extends`` allowed); a document
    without ``extends`` must in addition match ``$defs.Manifest``, the full document's schema.
    Lists a site file replaces (conditions, actions, intervals...) keep their full item schema.
    """
    out = copy.deepcopy(dict(full))
    defs: dict[str, Any] = out["$defs"]
    whole = {k: out.pop(k) for k in ("type", "properties", "additionalProperties", "required")
             if k in out}
    defs["Manifest"] = copy.deepcopy(whole)
    props = {k: v if k in SITE_ONLY else _patch(v, defs)
             for k, v in whole["properties"].items()}
    props[EXTENDS] = {"type": "string", "enum": list(BASES), "description": (
        "Site file: the shipped defaults this file is merged over (objects key by key, named "
        "list items by name, everything else replaced); omit for a complete document.")}
    out.update({"type": "object", "properties": props, "additionalProperties": False,
                "if": {"required": [EXTENDS]}, "else": {"$ref": "#/$defs/Manifest"}})
    return out


def _patch(node: Any, defs: dict[str, Any]) -> Any:
    """The schema of a site value merged over a value of schema ``node``."""
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {**node, "$ref": _patch_ref(node["$ref"], defs, named=False)}
    out = dict(node)
    if "allOf" in out and all("$ref" in s for s in out["allOf"]):
        out["allOf"] = [_patch(s, defs) for s in out["allOf"]]
    if out.get("type") == "object" or "properties" in out:
        out.pop("required", None)
        if "properties" in out:
            out["properties"] = {k: _patch(v, defs) for k, v in out["properties"].items()}
        if isinstance(out.get("additionalProperties"), dict):
            out["additionalProperties"] = _patch(out["additionalProperties"], defs)
    items = out.get("items")
    if isinstance(items, dict) and "$ref" in items and \
            NAME in defs[_def_name(items["$ref"])].get("properties", {}):
        out["items"] = {"anyOf": [items, {"$ref": _patch_ref(items["$ref"], defs, named=True)}]}
    return out


def _def_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _patch_ref(ref: str, defs: dict[str, Any], *, named: bool) -> str:
    name = _def_name(ref)
    key = name + ("Item" if named else "") + PATCH
    if key not in defs:
        defs[key] = {}
        body = _patch({k: v for k, v in defs[name].items() if k != "allOf"}, defs)
        if named:
            body["properties"] = {**body["properties"], REMOVE: {
                "const": True, "description": "Remove the default item of this name."}}
            body["required"] = [NAME]
        defs[key] = body
    return f"#/$defs/{key}"
