"""Condition compilation: a validated condition or ``{all, any}`` group -> closures over ``Facts``.

``compile_condition`` yields a ``Compiled``: ``test`` (does it hold), ``actual`` (the value seen,
for explanations), ``flip_at`` (the next instant its truth may change by time alone, for timers)
and an equivalent inline expression (``condition_codegen``). ``compile_group`` builds one
function per trigger; ``compile_all`` one per manifest that tests every trigger at once. Only
triggers that fire are re-evaluated with ``Group.explain`` to produce ``ConditionResult``s.

Pure: no I/O, no clock reads; ``now`` comes with the facts.
"""
from __future__ import annotations

import operator as _op
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence

from tiergate.plugin.core.condition_codegen import build_function, group_source, inline_source
from tiergate.plugin.core.condition_compiled import Compiled
from tiergate.plugin.core.condition_facts import (Facts, authority_limit, calendar_for,
                                                  changed_within, customer_contacts)
from tiergate.plugin.core.condition_fields import (CHANGE, UNITS, FieldSpec, field_spec, is_number,
                                                   loose_equal, rank_of)
from tiergate.plugin.core.model import ConditionResult

_STRICT = timedelta(seconds=1)     # timers for "greater_than" run this long after equality

_CMP = {"less_than": _op.lt, "greater_than": _op.gt, "less_than_or_equal": _op.le,
        "greater_than_or_equal": _op.ge}


def compile_condition(cond: Mapping[str, Any], path: str, manifest: Any) -> Compiled:
    """One validated condition -> closures. ``manifest`` gives tiers, calendars and authority."""
    name, op = cond["field"], cond["operator"]
    value = cond.get("value")
    spec = field_spec(name)
    assert spec is not None, name
    get = spec.get
    flip = None
    expected: Any = value

    if spec.type == "duration":
        unit = cond.get("unit", "hours")
        minutes = float(value) * UNITS[unit]
        anchor = spec.anchor
        cal_name = cond.get("calendar")
        scale = UNITS[unit]
        if unit.startswith("business_"):
            def get(f, anchor=anchor):
                a = anchor(f)
                if a is None:
                    return None
                return calendar_for(f.manifest, cal_name, f).business_minutes(a, f.now) / scale

            def flip(f, anchor=anchor):
                a = anchor(f)
                if a is None:
                    return None
                at = calendar_for(f.manifest, cal_name, f).add_business_minutes(a, minutes)
                if op == "greater_than":
                    at += _STRICT      # strictly more: one tick after equality
                return at if at > f.now else None
        else:
            def get(f, anchor=anchor):
                a = anchor(f)
                return None if a is None else (f.now - a).total_seconds() / 60.0 / scale

            def flip(f, anchor=anchor):
                a = anchor(f)
                if a is None:
                    return None
                at = a + timedelta(minutes=minutes)
                if op == "greater_than":
                    at += _STRICT
                return at if at > f.now else None
        expected = {"value": value, "unit": unit}
    elif name == "customer_contacts":
        window = float(cond.get("window_hours", 24)) * 60.0
        get = customer_contacts(window)
        expected = {"value": value, "window_hours": cond.get("window_hours", 24)}
    elif name == "clock.business_hours":
        cal_name = cond.get("calendar")

        def get(f):
            return calendar_for(f.manifest, cal_name, f).is_open(f.now)

        def flip(f):
            cal = calendar_for(f.manifest, cal_name, f)
            if getattr(cal, "always_open", False):
                return None
            at = cal.next_close(f.now) if cal.is_open(f.now) else cal.next_open(f.now)
            return at if at is not None and at > f.now else None
    elif spec.type == "date":
        raw = get

        def flip(f):
            d = raw(f)
            if d is None or not is_number(value):
                return None
            at = d - timedelta(days=float(value))
            return at if at > f.now else None

    test = _make_test(spec, op, value, get, cond, manifest)
    if spec.type == "amount" and op in ("within_authority", "above_authority"):
        expected = {"tier": cond.get("tier") or "current"}
    source, bindings = inline_source(spec, op, value, cond, get, test, manifest)
    return Compiled(path, name, op, expected, test, get, flip, source, bindings)

def _make_test(spec: FieldSpec, op: str, value: Any, get, cond, manifest) -> Callable[[Facts], bool]:
    t = spec.type
    if op in CHANGE:
        minutes = None if value is True else float(value) * 60.0
        ch = changed_within(spec.name, minutes)
        return ch if op == "changed" else (lambda f: not ch(f))
    if op == "present":
        return lambda f: get(f) not in (None, "", ())
    if op == "not_present":
        return lambda f: get(f) in (None, "", ())
    if t == "set":
        want = (value,) if isinstance(value, str) else tuple(value or ())
        wset = frozenset(want)
        if op == "includes":
            return lambda f: not wset.isdisjoint(get(f) or ())
        if op == "includes_all":
            return lambda f: wset.issubset(get(f) or ())
        if op == "not_includes":
            return lambda f: wset.isdisjoint(get(f) or ())
        if op == "is_empty":
            return lambda f: not get(f)
        return lambda f: bool(get(f))
    if op == "is":
        if t == "number" or t == "amount" or t == "any":
            return lambda f: loose_equal(get(f), value)
        return lambda f: get(f) == value
    if op == "is_not":
        if t == "number" or t == "amount" or t == "any":
            return lambda f: not loose_equal(get(f), value)
        return lambda f: get(f) != value
    if op in ("in", "not_in"):
        vals = frozenset(value)
        if op == "in":
            return lambda f: get(f) in vals
        return lambda f: get(f) not in vals
    if op in ("contains", "not_contains"):
        needle = str(value).lower()

        def contains(f):
            v = get(f)
            return v is not None and needle in str(v).lower()
        return contains if op == "contains" else (lambda f: not contains(f))
    if op in _CMP:
        cmp = _CMP[op]
        rank = rank_of(spec, manifest)
        if rank is not None:
            r = rank(value)

            def ranked(f):
                a = rank(get(f))
                return a is not None and r is not None and cmp(a, r)
            return ranked
        if t == "duration":
            v = float(value)

            def dur(f):
                a = get(f)
                return a is not None and cmp(a, v)
            return dur
        v = float(value)

        def num(f):
            a = get(f)
            if a is None or isinstance(a, bool):
                return False
            try:
                return cmp(float(a), v)
            except (TypeError, ValueError):
                return False
        return num
    if op in ("within", "not_within", "before", "after"):
        days = float(value)

        def days_ahead(f):
            d = get(f)
            return None if d is None else (d - f.now).total_seconds() / 86400.0
        if op == "within":
            return lambda f: (lambda x: x is not None and 0 <= x <= days)(days_ahead(f))
        if op == "not_within":
            return lambda f: (lambda x: x is None or x < 0 or x > days)(days_ahead(f))
        if op == "before":          # more than N days ago
            return lambda f: (lambda x: x is not None and x < -days)(days_ahead(f))
        return lambda f: (lambda x: x is not None and x > days)(days_ahead(f))
    if op in ("within_authority", "above_authority"):
        kind = spec.name.split(".", 1)[1]
        fixed_tier = cond.get("tier")

        def over(f):
            amount = get(f)
            if amount is None:
                return None
            tier = fixed_tier or f.position()[0]
            limit = authority_limit(f.manifest, tier, kind)
            return amount > (limit if limit is not None else 0.0)
        if op == "above_authority":
            return lambda f: over(f) is True
        return lambda f: over(f) is False
    raise ValueError(f"operator {op!r} not compiled for {spec.name}")


@dataclass(frozen=True)
class Group:
    """A compiled ``{all, any}`` group."""

    all: tuple[Compiled, ...]
    any: tuple[Compiled, ...]
    test: Callable[[Facts], bool]
    source: str = "True"
    bindings: Mapping[str, Any] = field(default_factory=dict)

    def explain(self, f: Facts) -> tuple[ConditionResult, ...]:
        return tuple(c.result(f) for c in self.all + self.any)

    def flips(self, f: Facts) -> list[datetime]:
        out = []
        for c in self.all + self.any:
            if c.flip_at is not None:
                at = c.flip_at(f)
                if at is not None:
                    out.append(at)
        return out


def compile_group(group: Mapping[str, Any], path: str, manifest: Any) -> Group:
    alls = tuple(compile_condition(c, f"{path}.all[{i}]", manifest)
                 for i, c in enumerate(group.get("all") or ()))
    anys = tuple(compile_condition(c, f"{path}.any[{i}]", manifest)
                 for i, c in enumerate(group.get("any") or ()))
    source = group_source(alls, anys)
    bindings: dict[str, Any] = {}
    for c in alls + anys:
        bindings.update(c.bindings)
    return Group(alls, anys, build_function([source], bindings, many=False), source, bindings)


def compile_all(groups: Sequence[Group]):
    """One function testing every group at once: ``fn(facts) -> tuple[bool, ...]``."""
    if not groups:
        return lambda f: ()
    bindings: dict[str, Any] = {}
    for g in groups:
        bindings.update(g.bindings)
    return build_function([g.source for g in groups], bindings, many=True)
