"""The desk ids a manifest document references, and the group ids ``tiergate install`` maps by name.

``referenced_ids(doc)`` lists every id of the effective document (a site file merged over the
defaults) that must exist on the desk, each with its manifest path:

- groups: ``tiers.<name>.group_id``, ``teams.<name>.group_id``, ``oncall.routes.<name>.group_id``
  and the ``value`` of trigger conditions on ``group_id``;
- users: ``tiers/teams.<name>.owner_id``, ``helpdesk.bot_user_id``, the keys of
  ``helpdesk.agents``, ``oncall.routes.<name>.owner_id`` and trigger conditions on
  ``assignee_id`` / ``requester_id``;
- ticket fields: ``helpdesk.score_field`` / ``helpdesk.risk_field`` and
  ``helpdesk.users_affected_field`` when it is a numeric field id;
- schedules: ``calendars.<name>.schedule_id`` where a calendar names one.

``group_names(doc)`` gives the names a tier or team is matched by (its ``label``, its key, the key
with spaces), ``match_groups`` pairs them with the desk's groups (case-insensitive) and
``site_with_ids`` writes the resulting ids into a site document: only the ids that differ from the
effective document, ``extends`` and everything else left as it is. Pure.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

GROUP, USER, TICKET_FIELD, SCHEDULE = "group", "user", "ticket field", "schedule"
OWNER_SECTIONS = ("tiers", "teams")
CONDITION_KINDS = {"group_id": GROUP, "assignee_id": USER, "requester_id": USER}
FIELD_KEYS = ("score_field", "risk_field", "users_affected_field")


@dataclass(frozen=True)
class IdRef:
    """One id the manifest references: what it must be on the desk, where, which id."""

    kind: str
    path: str
    id: int


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def referenced_ids(doc: Mapping[str, Any]) -> list[IdRef]:
    """Every desk id ``doc`` (an effective manifest document) references, in document order."""
    refs: list[IdRef] = []

    def add(kind: str, path: str, value: Any) -> None:
        oid = _as_id(value)
        if oid is not None:
            refs.append(IdRef(kind, path, oid))

    helpdesk = doc.get("helpdesk") or {}
    add(USER, "helpdesk.bot_user_id", helpdesk.get("bot_user_id"))
    for uid in helpdesk.get("agents") or {}:
        add(USER, f"helpdesk.agents.{uid}", uid)
    for key in FIELD_KEYS:
        add(TICKET_FIELD, f"helpdesk.{key}", helpdesk.get(key))
    for section in OWNER_SECTIONS:
        for name, spec in (doc.get(section) or {}).items():
            if isinstance(spec, Mapping):
                add(GROUP, f"{section}.{name}.group_id", spec.get("group_id"))
                add(USER, f"{section}.{name}.owner_id", spec.get("owner_id"))
    for name, route in ((doc.get("oncall") or {}).get("routes") or {}).items():
        if isinstance(route, Mapping):
            add(GROUP, f"oncall.routes.{name}.group_id", route.get("group_id"))
            add(USER, f"oncall.routes.{name}.owner_id", route.get("owner_id"))
    for name, cal in (doc.get("calendars") or {}).items():
        if isinstance(cal, Mapping):
            add(SCHEDULE, f"calendars.{name}.schedule_id", cal.get("schedule_id"))
    for i, trig in enumerate(doc.get("triggers") or ()):
        conds = (trig or {}).get("conditions") or {}
        for part in ("all", "any"):
            for j, cond in enumerate(conds.get(part) or ()):
                kind = CONDITION_KINDS.get((cond or {}).get("field"))
                if kind is None:
                    continue
                path = f"triggers[{i}].conditions.{part}[{j}].value"
                value = cond.get("value")
                for k, item in enumerate(value if isinstance(value, list) else [value]):
                    add(kind, f"{path}[{k}]" if isinstance(value, list) else path, item)
    return refs


def _norm(name: str) -> str:
    return " ".join(str(name).replace("_", " ").split()).casefold()


def group_names(doc: Mapping[str, Any]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(section, key) of every tier and team -> the names it is matched by, most specific first."""
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for section in OWNER_SECTIONS:
        for key, spec in (doc.get(section) or {}).items():
            label = (spec or {}).get("label") if isinstance(spec, Mapping) else None
            names = [n for n in (label, key) if isinstance(n, str) and n.strip()]
            out[(section, key)] = tuple(dict.fromkeys(_norm(n) for n in names))
    return out


@dataclass(frozen=True)
class GroupMatch:
    """The outcome of matching tiers and teams to the desk's groups by name."""

    ids: dict[tuple[str, str], int]                       # (section, key) -> desk group id
    missing: list[tuple[tuple[str, str], str]]            # (section, key), the name to create
    ambiguous: list[tuple[tuple[str, str], str, list[int]]]


def match_groups(doc: Mapping[str, Any], desk_groups: Iterable[tuple[int, str]]) -> GroupMatch:
    """Each tier and team of ``doc`` paired with the desk group of the same name (case and
    ``_`` / space insensitive; the label first, then the key). Unmatched ones are ``missing``
    (to be created under their label, else their key); a name two desk groups share is
    ``ambiguous``."""
    by_name: dict[str, list[int]] = {}
    for gid, name in desk_groups:
        by_name.setdefault(_norm(name), []).append(int(gid))
    ids: dict[tuple[str, str], int] = {}
    missing: list[tuple[tuple[str, str], str]] = []
    ambiguous: list[tuple[tuple[str, str], str, list[int]]] = []
    for owner, names in group_names(doc).items():
        hit = next((n for n in names if n in by_name), None)
        if hit is None:
            spec = (doc.get(owner[0]) or {}).get(owner[1]) or {}
            missing.append((owner, spec.get("label") or owner[1]))
        elif len(by_name[hit]) > 1:
            ambiguous.append((owner, hit, sorted(by_name[hit])))
        else:
            ids[owner] = by_name[hit][0]
    return GroupMatch(ids, missing, ambiguous)


def site_with_ids(site: Mapping[str, Any], effective: Mapping[str, Any],
                  group_ids: Mapping[tuple[str, str], int],
                  helpdesk_fields: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """``site`` with the mapped group ids (and ``helpdesk`` field ids) written in where they
    differ from ``effective``; trigger conditions on ``group_id`` that named a remapped tier's or
    team's old id are rewritten too (the whole condition list of that trigger, by name). Returns
    the new site document and one line per change."""
    out = copy.deepcopy(dict(site))
    changes: list[str] = []
    remap: dict[int, int] = {}
    for (section, key), gid in group_ids.items():
        old = ((effective.get(section) or {}).get(key) or {}).get("group_id")
        if old == gid and ((site.get(section) or {}).get(key) or {}).get("group_id") in (None, gid):
            continue
        out.setdefault(section, {}).setdefault(key, {})["group_id"] = gid
        changes.append(f"{section}.{key}.group_id: {old} -> {gid}")
        if isinstance(old, int):
            remap[old] = gid
    for key, value in (helpdesk_fields or {}).items():
        if value is not None and (effective.get("helpdesk") or {}).get(key) != value:
            out.setdefault("helpdesk", {})[key] = value
            changes.append(f"helpdesk.{key}: {(effective.get('helpdesk') or {}).get(key)} -> {value}")
    if remap:
        _remap_conditions(out, effective, remap, changes)
    return out, changes


def _remap_conditions(out: dict[str, Any], effective: Mapping[str, Any], remap: Mapping[int, int],
                      changes: list[str]) -> None:
    for trig in effective.get("triggers") or ():
        conds = (trig or {}).get("conditions") or {}
        patched: dict[str, list] = {}
        for part in ("all", "any"):
            items = copy.deepcopy(list(conds.get(part) or ()))
            hit = False
            for cond in items:
                if (cond or {}).get("field") != "group_id":
                    continue
                value = cond.get("value")
                if isinstance(value, list):
                    new = [remap.get(v, v) if isinstance(v, int) else v for v in value]
                else:
                    new = remap.get(value, value) if isinstance(value, int) else value
                if new != value:
                    cond["value"], hit = new, True
            if hit:
                patched[part] = items
        if not patched:
            continue
        name = trig.get("name")
        site_triggers = out.setdefault("triggers", [])
        item = next((t for t in site_triggers if isinstance(t, dict) and t.get("name") == name), None)
        if item is None:
            item = {"name": name}
            site_triggers.append(item)
        item.setdefault("conditions", {}).update(patched)
        changes.append(f"triggers.{name}.conditions: group ids remapped")
