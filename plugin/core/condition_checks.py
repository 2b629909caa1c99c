"""Static checks of conditions at load time: one condition's shape, and ``all`` lists that never hold.

``validate_condition`` returns the errors of one condition keyed by its key ("field",
"operator", "value", ...); the manifest schema turns them into JSON-path errors.
``contradictions`` finds the conditions of an ``all`` list that cannot hold together with an
earlier one (``is a`` and ``is b``, empty compared ranges, required and excluded tags...).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from tiergate.plugin.core.condition_fields import (CHANGE, CMP, MISSING, NO_VALUE, PRIORITIES,
                                                   UNITS, FieldSpec, field_names, field_spec,
                                                   is_number, loose_equal)

def validate_condition(cond: Mapping[str, Any]) -> dict[str, str]:
    """Errors of one condition keyed by its key name ("field", "operator", "value", ...)."""
    errors: dict[str, str] = {}
    name = cond.get("field")
    spec = field_spec(name) if isinstance(name, str) else None
    if spec is None:
        errors["field"] = (f"unknown field {name!r}; allowed: " + ", ".join(field_names()))
        return errors
    op = cond.get("operator")
    if op not in spec.operators:
        errors["operator"] = (f"operator {op!r} is not allowed for field '{name}' (type "
                              f"{spec.type}); allowed: {', '.join(spec.operators)}")
        return errors
    for key in ("unit", "calendar", "window_hours", "tier"):
        if key in cond and key not in spec.params:
            allowed = ", ".join(spec.params) or "none"
            errors[key] = f"parameter '{key}' does not apply to field '{name}' (allowed: {allowed})"
    if "unit" in cond and cond["unit"] not in UNITS:
        errors["unit"] = f"unknown unit {cond['unit']!r}; allowed: {', '.join(UNITS)}"
    if "window_hours" in cond and not is_number(cond["window_hours"]):
        errors["window_hours"] = "must be a positive number of hours"
    elif "window_hours" in cond and cond["window_hours"] <= 0:
        errors["window_hours"] = "must be a positive number of hours"
    msg = _value_error(spec, op, cond.get("value", MISSING))
    if msg:
        errors["value"] = msg
    return errors


def _value_error(spec: FieldSpec, op: str, value: Any) -> str | None:
    if op in NO_VALUE:
        if op in ("within_authority", "above_authority"):
            if value is not MISSING and value is not None:
                return f"'{op}' takes no value (use the `tier` parameter to name a tier)"
            return None
        return None if value is MISSING or value is None else f"'{op}' takes no value"
    if value is MISSING:
        return f"required for operator '{op}'"
    if op in CHANGE:
        if value is True or (is_number(value) and value > 0):
            return None
        return "must be true (ever) or a positive number of hours (changed within)"
    t = spec.type
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            return f"'{op}' needs a non-empty list"
        for v in value:
            m = _scalar_error(spec, v)
            if m:
                return m
        return None
    if t == "set":
        if isinstance(value, str) and value:
            return None
        if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            return None
        return "must be a tag or a non-empty list of tags"
    if t in ("number", "duration", "amount"):
        if not is_number(value):
            return f"must be a number, got {type(value).__name__}"
        if t == "duration" and value < 0:
            return "must not be negative"
        return None
    if t == "date":
        if not is_number(value):
            return "must be a number of days"
        return None
    if t == "any" and op in CMP:
        return None if is_number(value) else "must be a number for a comparison"
    if op in ("contains", "not_contains"):
        return None if isinstance(value, str) and value else "must be a non-empty string"
    return _scalar_error(spec, value)


def _scalar_error(spec: FieldSpec, v: Any) -> str | None:
    t = spec.type
    if t == "bool":
        return None if isinstance(v, bool) else "must be true or false"
    if t in ("enum", "ordered") and spec.values is not None:
        if v not in spec.values:
            return f"unknown value {v!r}; allowed: {', '.join(spec.values)}"
        return None
    if t in ("enum", "ordered", "string"):       # tier / team names are checked by the manifest
        return None if isinstance(v, str) and v else "must be a non-empty string"
    if t == "id":
        return None if (isinstance(v, int) and not isinstance(v, bool)) or v is None \
            else "must be an integer id or null"
    if t in ("number", "amount"):
        return None if is_number(v) else "must be a number"
    if t == "any":
        return None if v is None or isinstance(v, (str, int, float, bool)) else \
            "must be a string, number, boolean or null"
    return None


# --------------------------------------------------------------------------------------------
# contradiction analysis (load time): an `all` list that can never hold
# --------------------------------------------------------------------------------------------
def contradictions(conds: Sequence[Mapping[str, Any]], tier_ranks: Mapping[str, int] | None = None
                   ) -> list[tuple[int, str]]:
    """(index, message) for each condition of an ``all`` list that cannot hold together with an
    earlier one. Conditions with different parameters (unit, window) are compared separately."""
    out: list[tuple[int, str]] = []
    state: dict[tuple, dict[str, Any]] = {}
    for i, c in enumerate(conds):
        name, op, value = c.get("field"), c.get("operator"), c.get("value")
        spec = field_spec(name) if isinstance(name, str) else None
        if spec is None or op not in spec.operators or validate_condition(c):
            continue
        key = (name, c.get("unit"), c.get("calendar"), c.get("window_hours"), c.get("tier"))
        st = state.setdefault(key, {"lo": -math.inf, "lo_strict": False, "hi": math.inf,
                                    "hi_strict": False, "eq": MISSING, "ne": set(),
                                    "allowed": None, "has": set(), "hasnt": set(),
                                    "present": None, "first": i})
        why = _apply(st, spec, op, value, tier_ranks or {})
        if why:
            out.append((i, f"contradicts an earlier condition on '{name}' in the same `all` "
                           f"({why}): the trigger can never fire"))
    return out


def _apply(st: dict, spec: FieldSpec, op: str, value: Any, tier_ranks: Mapping[str, int]) -> str | None:
    t = spec.type
    if op == "present":
        if st["present"] is False:
            return "present and not_present"
        st["present"] = True
        return None
    if op == "not_present":
        if st["present"] is True or st["eq"] is not MISSING:
            return "not_present and a required value"
        st["present"] = False
        return None
    if op in CHANGE or op in ("contains", "not_contains", "within_authority", "above_authority",
                              "within", "not_within", "before", "after"):
        flag = ("auth", spec.name) if "authority" in op else None
        if flag:
            other = "above_authority" if op == "within_authority" else "within_authority"
            if st.get(other):
                return "within_authority and above_authority"
            st[op] = True
        return None
    if t == "set":
        want = {value} if isinstance(value, str) else set(value or ())
        if op == "includes_all":
            if want & st["hasnt"]:
                return f"requires and excludes {sorted(want & st['hasnt'])}"
            st["has"] |= want
        elif op == "includes":
            if want <= st["hasnt"]:
                return f"includes one of {sorted(want)} but all are excluded"
        elif op == "not_includes":
            if want & st["has"]:
                return f"excludes required {sorted(want & st['has'])}"
            st["hasnt"] |= want
        return None
    rank = None
    if spec.name == "priority":
        rank = {p: i for i, p in enumerate(PRIORITIES)}
    elif spec.name == "tier":
        rank = dict(tier_ranks)
    if op == "is":
        if st["present"] is False:
            return "a value and not_present"
        if st["eq"] is not MISSING and not loose_equal(st["eq"], value):
            return f"is {st['eq']!r} and is {value!r}"
        if value in st["ne"]:
            return f"is {value!r} and is_not {value!r}"
        if st["allowed"] is not None and value not in st["allowed"]:
            return f"is {value!r} but not in the allowed list"
        v = rank.get(value) if rank else value
        if is_number(v) and not _in_bounds(st, float(v)):
            return f"is {value!r} outside the compared range"
        st["eq"] = value
        return None
    if op == "is_not":
        if st["eq"] is not MISSING and loose_equal(st["eq"], value):
            return f"is {value!r} and is_not {value!r}"
        st["ne"].add(value)
        if st["allowed"] is not None:
            st["allowed"] = st["allowed"] - {value}
            if not st["allowed"]:
                return "no value left"
        return None
    if op in ("in", "not_in"):
        vals = set(value)
        if op == "in":
            st["allowed"] = vals if st["allowed"] is None else st["allowed"] & vals
        else:
            st["ne"] |= vals
            if st["allowed"] is not None:
                st["allowed"] -= vals
        if st["allowed"] is not None:
            st["allowed"] -= st["ne"]
            if not st["allowed"]:
                return "no value is allowed by both lists"
            if st["eq"] is not MISSING and st["eq"] not in st["allowed"]:
                return f"is {st['eq']!r} but not in the allowed list"
        elif st["eq"] is not MISSING and st["eq"] in st["ne"]:
            return f"is {st['eq']!r} and not_in a list holding it"
        return None
    if op in CMP:
        v = rank.get(value) if rank else value
        if not is_number(v):
            return None
        v = float(v)
        if op in ("greater_than", "greater_than_or_equal"):
            strict = op == "greater_than"
            if v > st["lo"] or (v == st["lo"] and strict):
                st["lo"], st["lo_strict"] = v, strict
        else:
            strict = op == "less_than"
            if v < st["hi"] or (v == st["hi"] and strict):
                st["hi"], st["hi_strict"] = v, strict
        if st["lo"] > st["hi"] or (st["lo"] == st["hi"] and (st["lo_strict"] or st["hi_strict"])):
            return "the compared range is empty"
        if rank and spec.values:
            pass
        eqv = st["eq"]
        if eqv is not MISSING:
            e = rank.get(eqv) if rank else eqv
            if is_number(e) and not _in_bounds(st, float(e)):
                return f"is {eqv!r} outside the compared range"
        if rank:
            left = [n for n, r in rank.items() if _in_bounds(st, float(r))]
            if not left:
                return "no value is in the compared range"
        return None
    return None


def _in_bounds(st: dict, v: float) -> bool:
    lo_ok = v > st["lo"] if st["lo_strict"] else v >= st["lo"]
    hi_ok = v < st["hi"] if st["hi_strict"] else v <= st["hi"]
    return lo_ok and hi_ok
