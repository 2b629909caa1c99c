"""Zendesk SLA policy filters -> the manifest's SLA ``match`` keys (``plugin/core/sla_config.Match``),
pure.

A Zendesk policy applies when every condition of ``filter.all`` and at least one of
``filter.any`` hold. ``filter_matches(filter)`` returns the matches that say the same: the ``all``
conditions merged into one match, and one match per ``any`` condition (merged with the ``all``
part; ``any`` conditions on one key, e.g. two groups, stay one match with both values), plus a
``Skipped`` for each condition no match key expresses, naming the field, operator, value and why.

Condition -> match key:
- ``priority`` is / is_not / less_than / greater_than -> ``priorities`` (the set of priorities it
  admits);
- ``group_id`` / ``organization_id`` is / is_not -> ``groups`` / ``not_groups``,
  ``organizations`` / ``not_organizations``;
- ``type`` / ``ticket_type_id`` is / is_not (question, incident, problem, task) -> ``types`` /
  ``not_types``;
- ``via_id`` is / is_not (Zendesk's via ids: 0 web form, 4 email, 5 API, 29 chat, 30 Twitter, 33-35
  voice, 38 Facebook) -> ``channels`` / ``not_channels`` (the channel names tiergate's tickets carry);
- ``current_tags`` includes / not_includes (space-separated tags) -> ``tags_any`` / ``tags_none``;
- ``custom_fields_<id>`` is -> ``fields`` (``{"<id>": [value]}``).
Anything else (brand, form, requester, assignee, status, organization or user fields, custom field
"is not" / "present") is skipped: tiergate's ticket or the match has no equivalent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from tiergate.plugin.core.sla_match import field_text

PRIORITY_ORDER = ("low", "normal", "high", "urgent")
VIA_CHANNELS = {0: "web", 4: "email", 5: "api", 29: "chat", 30: "twitter", 33: "voice", 34: "voice",
                35: "voice", 38: "facebook"}
TYPES = ("question", "incident", "problem", "task")
INCLUDE_KEYS = ("priorities", "groups", "organizations", "types", "channels", "tags_any")
EXCLUDE_KEYS = ("not_groups", "not_organizations", "not_types", "not_channels", "tags_none")
NO_EQUIVALENT = {
    "brand_id": "tiergate's tickets carry no brand",
    "ticket_form_id": "tiergate's tickets carry no ticket form",
    "requester_id": "the SLA match has no requester key",
    "assignee_id": "the SLA match has no assignee key",
    "status": "an SLA policy follows the ticket through its statuses; the match has no status key",
}


@dataclass(frozen=True)
class Skipped:
    """A filter condition that was not imported, and why."""

    where: str           # "all" | "any"
    field: str
    operator: str
    value: Any
    reason: str

    def describe(self) -> str:
        return f"filter.{self.where}: {self.field} {self.operator} {self.value!r}: {self.reason}"


class _Unmapped(Exception):
    pass


def _ints(value: Any, field: str) -> tuple[int, ...]:
    try:
        return (int(str(value).strip()),)
    except ValueError:
        raise _Unmapped(f"{field} needs a numeric id") from None


def _priorities(op: str, value: Any) -> tuple[str, ...]:
    v = str(value or "").lower()
    if v not in PRIORITY_ORDER:
        raise _Unmapped(f"unknown priority (known: {', '.join(PRIORITY_ORDER)})")
    i = PRIORITY_ORDER.index(v)
    admitted = {"is": (v,), "is_not": tuple(p for p in PRIORITY_ORDER if p != v),
                "less_than": PRIORITY_ORDER[:i], "greater_than": PRIORITY_ORDER[i + 1:]}.get(op)
    if admitted is None:
        raise _Unmapped("operator not supported for priority (is, is_not, less_than, greater_than)")
    return admitted


def _is_or_not(op: str, key: str, values: tuple) -> dict[str, tuple]:
    if op == "is":
        return {key: values}
    if op == "is_not":
        return {f"not_{key}": values}
    raise _Unmapped("operator not supported (is, is_not)")


def condition_match(cond: Mapping[str, Any]) -> dict[str, tuple]:
    """One Zendesk condition -> match keys; ``_Unmapped(reason)`` when nothing expresses it."""
    field, op, value = str(cond.get("field") or ""), str(cond.get("operator") or ""), cond.get("value")
    if field == "priority":
        return {"priorities": _priorities(op, value)}
    if field in ("group_id", "organization_id"):
        key = "groups" if field == "group_id" else "organizations"
        return _is_or_not(op, key, _ints(value, field))
    if field in ("type", "ticket_type_id"):
        v = str(value or "").lower()
        if v not in TYPES:
            raise _Unmapped(f"unknown ticket type (known: {', '.join(TYPES)})")
        return _is_or_not(op, "types", (v,))
    if field == "via_id":
        channel = VIA_CHANNELS.get(_ints(value, field)[0])
        if channel is None:
            raise _Unmapped(f"via id {value!r} has no tiergate channel (known: "
                            + ", ".join(f"{k} {v}" for k, v in sorted(VIA_CHANNELS.items())) + ")")
        return _is_or_not(op, "channels", (channel,))
    if field == "current_tags":
        tags = tuple(t for t in str(value or "").split() if t)
        if not tags:
            raise _Unmapped("no tags given")
        if op == "includes":
            return {"tags_any": tags}
        if op == "not_includes":
            return {"tags_none": tags}
        raise _Unmapped("operator not supported for tags (includes, not_includes)")
    custom = re.fullmatch(r"custom_fields_(\d+)", field)
    if custom:
        if op != "is":
            raise _Unmapped("the SLA match has custom fields only with 'is'")
        return {"fields": ((custom.group(1), (field_text(value),)),)}
    if field in NO_EQUIVALENT:
        raise _Unmapped(NO_EQUIVALENT[field])
    raise _Unmapped("the SLA match has no equivalent for this field")


def merge(a: Mapping[str, tuple], b: Mapping[str, tuple]) -> dict[str, tuple] | None:
    """Both matches at once (inclusions intersect, exclusions add up); None if nothing can match."""
    out = dict(a)
    for key, values in b.items():
        if key not in out:
            if key in INCLUDE_KEYS and not values:
                return None                  # e.g. priority less than low
            out[key] = values
        elif key in EXCLUDE_KEYS:
            out[key] = tuple(dict.fromkeys(out[key] + values))
        elif key == "fields":
            fields = dict(out[key])
            for name, allowed in values:
                fields[name] = tuple(v for v in fields.get(name, allowed) if v in allowed)
                if not fields[name]:
                    return None
            out[key] = tuple(sorted(fields.items()))
        elif key == "tags_any":
            # "one of A" and "one of B": one list says it only when one holds the other
            small, large = sorted((out[key], values), key=len)
            if not set(small) <= set(large):
                raise _Unmapped("a second 'tags include' condition: the match holds one list of "
                                "tags of which a ticket needs any")
            out[key] = small
        else:
            out[key] = tuple(v for v in out[key] if v in values)
            if not out[key]:
                return None
    return out


def filter_matches(flt: Mapping[str, Any] | None) -> tuple[list[dict[str, tuple]], list[Skipped]]:
    """A Zendesk policy filter -> (the matches it imports as, one per ``any`` branch; the skipped
    conditions). No matches at all means the policy can never apply as imported."""
    flt = flt if isinstance(flt, Mapping) else {}
    skipped: list[Skipped] = []
    conds = {}
    for where in ("all", "any"):
        listed = flt.get(where) or []
        listed = listed if isinstance(listed, list) else [listed]
        conds[where] = [c for c in listed if isinstance(c, Mapping)]
        skipped.extend(Skipped(where, "?", "?", c, "not a condition object {field, operator, value}")
                       for c in listed if not isinstance(c, Mapping))
    base: dict[str, tuple] | None = {}
    for cond in conds["all"]:
        try:
            base = merge(base, condition_match(cond)) if base is not None else None
        except _Unmapped as why:
            skipped.append(_skipped("all", cond, f"{why}; imported without it (the policy covers "
                                                 "more tickets than in Zendesk)"))
    branches: list[tuple[dict[str, tuple], Mapping[str, Any]]] = []
    for cond in conds["any"]:
        try:
            branches.append((condition_match(cond), cond))
        except _Unmapped as why:
            skipped.append(_skipped("any", cond, f"{why}; tickets that only this condition admits "
                                                 "are not covered"))
    if base is None:
        return [], skipped
    if not (flt.get("any") or []):
        return [base], skipped
    keys = {k for b, _ in branches for k in b}
    if len(branches) > 1 and len(keys) == 1 and all(len(b) == 1 for b, _ in branches) and \
            next(iter(keys)) in INCLUDE_KEYS:
        key = next(iter(keys))          # e.g. group 1 or group 2: one match with both
        branches = [({key: tuple(dict.fromkeys(v for b, _ in branches for v in b[key]))}, branches[0][1])]
    out = []
    for b, cond in branches:
        try:
            m = merge(base, b)
        except _Unmapped as why:
            skipped.append(_skipped("any", cond, f"{why}; tickets that only this condition admits "
                                                 "are not covered"))
            continue
        if m is not None:
            out.append(m)
    return out, skipped


def _skipped(where: str, cond: Mapping[str, Any], reason: str) -> Skipped:
    return Skipped(where, str(cond.get("field")), str(cond.get("operator")), cond.get("value"), reason)
