"""Code generation for conditions: inline Python expressions and the functions built from them.

Each value a condition reads (``t.priority``, the last customer comment instant, elapsed
times...) is hoisted: computed once at the top of the generated function and shared by every
trigger that reads it; the rest is plain comparisons. Generated code only ever contains field
accessors from a fixed table and names bound to validated values (never manifest text).
"""
from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any, Mapping, Sequence

from tiergate.plugin.core.condition_compiled import Compiled
from tiergate.plugin.core.condition_fields import CHANGE, UNITS, FieldSpec, rank_of

_KEYS = itertools.count()
_EXPR = {n: f"t.{n}" for n in ("status", "priority", "type", "channel", "group_id", "assignee_id",
                               "requester_id", "organization_id", "tags", "subject",
                               "satisfaction")}
_EXPR.update({n: f"e.{n}" for n in ("sentiment", "sentiment_label", "attention_score",
                                    "sentiment_shift", "model_score", "complaint")})
_EXPR.update({"risk_tags": "f.risk_tags()", "tier": "f.position()[0]",
              "team": "f.position()[1]"})
_EXPR.update({f"organization.{n}": f"(None if t.organization is None else t.organization.{n})"
              for n in ("segment", "account_value", "name")})
_CMP_SRC = {"less_than": "<", "greater_than": ">", "less_than_or_equal": "<=",
            "greater_than_or_equal": ">="}
_DUR_SRC = _CMP_SRC                       # elapsed (now - anchor) compared with a timedelta


def inline_source(spec: FieldSpec, op: str, value: Any, cond: Mapping[str, Any], get, test,
                 manifest: Any) -> tuple[str, dict[str, Any]]:
    """An inline expression equivalent to ``test(f)``; falls back to calling ``test``.

    Returned bindings map names to objects; names starting with ``=`` are *hoisted locals*
    (``"=_x_priority": "t.priority"``): computed once at the top of the generated function and
    shared by every condition that reads the same value."""
    k = next(_KEYS)
    ns: dict[str, Any] = {}

    def bind(prefix: str, obj: Any) -> str:
        name = f"_{prefix}{k}"
        ns[name] = obj
        return name

    def hoist(local: str, expr: str) -> str:
        ns["=" + local] = expr
        return local

    t = spec.type
    unit = cond.get("unit", "hours")
    slug = re.sub(r"[^a-z0-9]", "_", spec.name)
    if t == "duration" and op in _DUR_SRC and not unit.startswith("business_"):
        delta = timedelta(minutes=float(value) * UNITS[unit])
        ns[f"_anc_{slug}"] = spec.anchor
        d = bind("dd", delta)
        hoist(f"_xa_{slug}", f"_anc_{slug}(f)")
        el = hoist(f"_xe_{slug}", f"(None if _xa_{slug} is None else now - _xa_{slug})")
        return f"({el} is not None and {el} {_CMP_SRC[op]} {d})", ns
    x = _EXPR.get(spec.name)
    if spec.name == "customer_contacts":
        window = float(cond.get("window_hours", 24))
        wslug = str(window).replace(".", "_")
        ns[f"_cc_{wslug}"] = get
        x = f"_cc_{wslug}(f)"
        slug = f"{slug}_{wslug}"        # one hoisted value per window, not per field
    if x is None or t in ("any", "amount", "date") or op in CHANGE:
        return f"{bind('t', test)}(f)", ns
    x = hoist(f"_x_{slug}", x)
    if op == "present":
        return f"({x} not in (None, '', ()))", ns
    if op == "not_present":
        return f"({x} in (None, '', ()))", ns
    if op in ("is", "is_not"):
        if t == "bool":
            return f"({x} {'is' if op == 'is' else 'is not'} {bool(value)!r})", ns
        return f"({x} {'==' if op == 'is' else '!='} {bind('v', value)})", ns
    if op in ("in", "not_in"):
        return f"({x} {'in' if op == 'in' else 'not in'} {bind('v', frozenset(value))})", ns
    if t == "set":
        want = frozenset((value,) if isinstance(value, str) else (value or ()))
        v = bind("v", want)
        return {"includes": f"(not {v}.isdisjoint({x}))", "includes_all": f"{v}.issubset({x})",
                "not_includes": f"{v}.isdisjoint({x})", "is_empty": f"(not {x})",
                "is_not_empty": f"bool({x})"}[op], ns
    if op in _CMP_SRC and t == "number":
        return f"({x} is not None and {x} {_CMP_SRC[op]} {bind('v', float(value))})", ns
    if op in _CMP_SRC and t == "ordered":
        rank = rank_of(spec, manifest)
        r = rank(value) if rank else None
        if rank is None or r is None:
            return f"{bind('t', test)}(f)", ns
        ns[f"_rank_{slug}"] = rank
        xr = hoist(f"_xr_{slug}", f"_rank_{slug}({x})")
        return f"({xr} is not None and {xr} {_CMP_SRC[op]} {bind('v', r)})", ns
    return f"{bind('t', test)}(f)", ns


def _cost(c: Compiled) -> int:
    """Cheap tests first so ``and`` short-circuits early: comparisons of shared values, then
    elapsed times, then calls into closures (windows, custom fields, business hours...)."""
    if c.source.startswith("_t"):
        return 2
    return 1 if "_xe_" in c.source else 0


def group_source(alls: Sequence[Compiled], anys: Sequence[Compiled]) -> str:
    parts = [c.source for c in sorted(alls, key=_cost)]
    if anys:
        parts.append("(" + " or ".join(c.source for c in anys) + ")")
    return "(" + " and ".join(parts) + ")" if parts else "True"


def build_function(sources: Sequence[str], bindings: Mapping[str, Any], many: bool):
    """``def _fn(f)`` returning one bool (``many=False``) or a tuple of bools."""
    body = ", ".join(sources) + ("," if many and len(sources) == 1 else "")
    expr = f"({body})" if many else sources[0]
    lines = ["def _fn(f):", "    t = f.ticket", "    e = f.enrichment", "    now = f.now"]
    ns: dict[str, Any] = {}
    hoisted = [(k[1:], v) for k, v in bindings.items() if k.startswith("=")]
    order = ("_x_", "_xa_", "_xe_", "_xr_")          # values, anchors, elapsed, ranks
    hoisted.sort(key=lambda kv: (next((i for i, p in enumerate(order) if kv[0].startswith(p)),
                                      len(order)), kv[0]))
    lines += [f"    {local} = {src}" for local, src in hoisted]
    lines.append(f"    return {expr}")
    ns.update({k: v for k, v in bindings.items() if not k.startswith("=")})
    exec(compile("\n".join(lines) + "\n", "<tiergate-conditions>", "exec"), ns)  # noqa: S102
    return ns["_fn"]
