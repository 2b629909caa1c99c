"""What the manifest means, checked: cross-references, templates and triggers that conflict.

``flatten_errors`` walks marshmallow's nested messages alongside the schema into
``(json_path, message)`` pairs such as ``triggers[2].conditions.all[0].operator``.
``semantic_errors`` reads the raw document (tolerant of structurally broken input) and reports
references to tiers, teams, templates, calendars and on-call routes that do not exist, template
syntax, handoff / page templates missing required facts, contradictory ``all`` lists, triggers
whose actions do nothing, and pairs of triggers that fire together and contradict each other.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

from jinja2 import TemplateSyntaxError
from marshmallow import Schema, fields

from tiergate.plugin.core.actions import top_priority
from tiergate.plugin.core.condition_checks import contradictions
from tiergate.plugin.core.handoff_templates import required_problems
from tiergate.plugin.core.templates import compile_template


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def flatten_errors(messages: Any, node: Any, path: str, out: list[tuple[str, str]]) -> None:
    """Walk marshmallow's nested messages alongside the schema that produced them."""
    if isinstance(messages, (list, tuple)) and all(isinstance(m, str) for m in messages):
        for m in messages:
            out.append((path, m))
        return
    if isinstance(node, fields.Nested):
        node = node.schema
    if isinstance(node, Schema) and isinstance(messages, Mapping):
        by_key = {(f.data_key or n): f for n, f in node.fields.items()}
        for key, sub in messages.items():
            if key == "_schema":
                flatten_errors(sub, None, path, out)
            elif key not in by_key and sub == ["Unknown field."]:
                out.append((_join(path, key), "unknown key; allowed: " + ", ".join(by_key)))
            else:
                flatten_errors(sub, by_key.get(key), _join(path, key), out)
        return
    if isinstance(node, fields.List) and isinstance(messages, Mapping):
        for key, sub in messages.items():
            if isinstance(key, int):
                flatten_errors(sub, node.inner, f"{path}[{key}]", out)
            else:
                flatten_errors(sub, None, path, out)
        return
    if isinstance(node, fields.Dict) and isinstance(messages, Mapping):
        for key, sub in messages.items():
            if isinstance(sub, Mapping) and set(sub) <= {"key", "value"}:
                if "key" in sub:
                    flatten_errors(sub["key"], None, _join(path, key), out)
                if "value" in sub:
                    flatten_errors(sub["value"], node.value_field, _join(path, key), out)
            else:
                flatten_errors(sub, None, _join(path, key), out)
        return
    if isinstance(messages, Mapping):
        for key, sub in messages.items():
            flatten_errors(sub, None, path if key == "_schema" else _join(path, key), out)
        return
    if isinstance(messages, (list, tuple)):
        for m in messages:
            flatten_errors(m, node, path, out)
        return
    out.append((path, str(messages)))


def _d_(x: Any) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _l_(x: Any) -> list[Any]:
    return x if isinstance(x, list) else []


def _allowed(names: Iterable[str]) -> str:
    names = sorted(names)
    return ", ".join(names) if names else "(none defined)"


def semantic_errors(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    errs: list[tuple[str, str]] = []
    tiers = _d_(doc.get("tiers"))
    teams = _d_(doc.get("teams"))
    cals = set(_d_(doc.get("calendars")))
    oncall = _d_(doc.get("oncall"))
    routes = set(_d_(oncall.get("routes")))
    templates = _d_(doc.get("templates"))
    owners = set(tiers) | set(teams)

    def ref(path: str, value: Any, names: set[str], what: str) -> None:
        if isinstance(value, str) and value not in names:
            errs.append((path, f"unknown {what} '{value}'; allowed: {_allowed(names)}"))

    # templates compile
    for name, text in templates.items():
        if isinstance(text, str):
            try:
                compile_template(text)
            except TemplateSyntaxError as exc:
                errs.append((f"templates.{name}", f"template syntax error line {exc.lineno}: "
                                                   f"{exc.message}"))
    # owners
    seen_groups: dict[int, str] = {}
    seen_orders: dict[int, str] = {}
    for kind, table in (("tiers", tiers), ("teams", teams)):
        for name, spec in table.items():
            spec = _d_(spec)
            p = f"{kind}.{name}"
            if name in tiers and name in teams and kind == "teams":
                errs.append((p, f"'{name}' is both a tier and a team; names must be unique"))
            ref(f"{p}.calendar", spec.get("calendar"), cals, "calendar")
            ref(f"{p}.oncall", spec.get("oncall"), routes, "on-call route")
            g = spec.get("group_id")
            if isinstance(g, int):
                if g in seen_groups:
                    errs.append((f"{p}.group_id", f"group {g} is already used by "
                                                  f"{seen_groups[g]}; each group has one owner"))
                seen_groups[g] = p
            o = spec.get("order")
            if kind == "tiers" and isinstance(o, int):
                if o in seen_orders:
                    errs.append((f"{p}.order", f"order {o} is already used by {seen_orders[o]}"))
                seen_orders[o] = p
    hd = _d_(doc.get("helpdesk"))
    ref("helpdesk.default_tier", hd.get("default_tier"), set(tiers), "tier")
    ref("helpdesk.default_calendar", hd.get("default_calendar"), cals, "calendar")
    # authority
    auth = _d_(doc.get("authority"))
    for name in _d_(auth.get("limits")):
        ref(f"authority.limits.{name}", name, set(tiers), "tier")
    for kind, who in _d_(auth.get("approvers")).items():
        ref(f"authority.approvers.{kind}", who, owners, "tier or team")
    # on-call
    ref("oncall.default", oncall.get("default"), routes, "on-call route")
    for name, r in _d_(oncall.get("routes")).items():
        ref(f"oncall.routes.{name}.template", _d_(r).get("template"), set(templates), "template")
    # the handoff note and on-call page templates must print the facts the next person needs
    pages = [(f"oncall.routes.{name}.template", _d_(r).get("template"))
             for name, r in _d_(oncall.get("routes")).items()
             if isinstance(_d_(r).get("template"), str)]
    pages += [(f"triggers[{i}].actions[{j}].template", _d_(a).get("template"))
              for i, trig in enumerate(_l_(doc.get("triggers")))
              for j, a in enumerate(_l_(_d_(trig).get("actions")))
              if _d_(a).get("action") == "notify" and isinstance(_d_(a).get("template"), str)]
    errs.extend(required_problems(templates, pages))
    # triggers
    tier_ranks = {n: _d_(t).get("order") for n, t in tiers.items()
                  if isinstance(_d_(t).get("order"), int)}
    top = max(tier_ranks, key=tier_ranks.get) if tier_ranks else None
    names: dict[str, int] = {}
    norm: list[tuple[int, str, Any, Mapping[str, Any]]] = []
    for i, trig in enumerate(_l_(doc.get("triggers"))):
        trig = _d_(trig)
        p = f"triggers[{i}]"
        name = trig.get("name")
        if isinstance(name, str):
            if name in names:
                errs.append((f"{p}.name", f"trigger name '{name}' is already used by "
                                          f"triggers[{names[name]}]"))
            names.setdefault(name, i)
        conds = _d_(trig.get("conditions"))
        pinned: dict[str, Any] = {}
        has_tags: set[str] = set()
        lacks_tags: set[str] = set()
        for part in ("all", "any"):
            for j, c in enumerate(_l_(conds.get(part))):
                c = _d_(c)
                cp = f"{p}.conditions.{part}[{j}]"
                f, op, v = c.get("field"), c.get("operator"), c.get("value")
                if f in ("tier", "team") and op not in ("present", "not_present", "changed",
                                                      "not_changed"):
                    pool = set(tiers) if f == "tier" else set(teams)
                    for item in (v if isinstance(v, list) else [v]):
                        ref(f"{cp}.value", item, pool, f)
                ref(f"{cp}.calendar", c.get("calendar"), cals, "calendar")
                ref(f"{cp}.tier", c.get("tier"), set(tiers), "tier")
                if isinstance(c.get("unit"), str) and c["unit"].startswith("business_") \
                        and not c.get("calendar") and not cals:
                    errs.append((f"{cp}.unit", "business units need a calendar; define "
                                               "`calendars`"))
                if part == "all" and op == "is":
                    pinned[f] = v
                if part == "all" and f == "tags":
                    vals = {v} if isinstance(v, str) else {x for x in _l_(v) if isinstance(x, str)}
                    if op == "includes_all" or (op == "includes" and len(vals) == 1):
                        has_tags |= vals
                    elif op == "not_includes":
                        lacks_tags |= vals
            if part == "all":
                for j, msg in contradictions([_d_(c) for c in _l_(conds.get("all"))],
                                               tier_ranks):
                    errs.append((f"{p}.conditions.all[{j}]", msg))
        errs.extend(_dead_alternatives(p, conds, tier_ranks))
        acts = _l_(trig.get("actions"))
        effective = 0
        added: set[str] = set()
        removed: set[str] = set()
        for j, a in enumerate(acts):
            a = _d_(a)
            ap = f"{p}.actions[{j}]"
            kind = a.get("action")
            for key in ("template", "public_template", "template_within", "template_above"):
                ref(f"{ap}.{key}", a.get(key), set(templates), "template")
            ref(f"{ap}.route", a.get("route"), routes, "on-call route")
            noop = None
            if kind == "escalate":
                to = a.get("to")
                if to != "up":
                    ref(f"{ap}.to", to, owners, "escalation target ('up', a tier or a team)")
                if to == "up" and pinned.get("tier") == top and top is not None:
                    noop = f"escalates 'up' but the conditions require the top tier '{top}'"
                elif isinstance(to, str) and (pinned.get("tier") == to or pinned.get("team") == to):
                    noop = f"escalates to '{to}' but the conditions require it is already there"
            elif kind == "set_priority" and pinned.get("priority") == a.get("priority") \
                    and a.get("priority") is not None:
                noop = f"sets priority '{a.get('priority')}' which the conditions require already"
            elif kind in ("add_tags", "remove_tags"):
                tags = {t for t in _l_(a.get("tags")) if isinstance(t, str)}
                (added if kind == "add_tags" else removed).update(tags)
                if tags and kind == "add_tags" and tags <= has_tags:
                    noop = f"adds {sorted(tags)} which the conditions require present"
                elif tags and kind == "remove_tags" and tags <= lacks_tags:
                    noop = f"removes {sorted(tags)} which the conditions require absent"
            if noop:
                errs.append((ap, f"does nothing: {noop}"))
            else:
                effective += 1
        both = added & removed
        if both:
            errs.append((f"{p}.actions", f"adds and removes the same tags {sorted(both)}"))
        if acts and effective == 0:
            errs.append((f"{p}.actions", "the trigger's actions do nothing"))
        if trig.get("enabled", True) is not False:
            norm.append((i, name if isinstance(name, str) else f"#{i}",
                         _canon(conds), _effects(acts)))
    ranks = {**tier_ranks, **{n: _d_(t).get("rank") for n, t in teams.items()
                              if isinstance(_d_(t).get("rank"), int)}}
    errs.extend(_pair_conflicts(norm, ranks))
    return errs


def _dead_alternatives(p: str, conds: Mapping[str, Any], tier_ranks: Mapping[str, int]
                       ) -> list[tuple[str, str]]:
    """`any` alternatives that contradict the `all` list can never be the reason to fire;
    when none can hold, the trigger is unreachable."""
    base = [_d_(c) for c in _l_(conds.get("all"))]
    alts = [_d_(c) for c in _l_(conds.get("any"))]
    if not base:
        return []
    out: list[tuple[str, str]] = []
    for k, alt in enumerate(alts):
        if any(j == len(base) for j, _ in contradictions(base + [alt], tier_ranks)):
            out.append((f"{p}.conditions.any[{k}]",
                        f"contradicts the `all` list on '{alt.get('field')}': this alternative "
                        f"can never hold, so it is unreachable"))
    if alts and len(out) == len(alts):
        out.append((f"{p}.conditions.any", "no alternative can hold together with the `all` "
                                           "list: the trigger can never fire"))
    return out


def _pair_conflicts(norm: Sequence[tuple[int, str, Any, Mapping[str, Any]]],
                    ranks: Mapping[str, int]) -> list[tuple[str, str]]:
    """Pairs of triggers that fire together and contradict each other. Two triggers fire
    together whenever one's conditions imply the other's (equal, or a superset of its `all`
    list). Then tags one adds and the other removes are an error; an escalation or a priority
    that the more general trigger always outranks (highest rank / priority wins) never takes
    effect, which is an error too; a more specific trigger that outranks the general one is the
    usual override and allowed."""
    out: list[tuple[str, str]] = []
    for x in range(len(norm)):
        for y in range(x + 1, len(norm)):
            i, n1, c1, e1 = norm[x]
            j, n2, c2, e2 = norm[y]
            if c1 == c2:
                why = _conflict(e1, e2)
                if why:
                    out.append((f"triggers[{j}]", f"contradicts triggers[{i}] ('{n1}'): same "
                                                  f"conditions but {why}"))
                continue
            for (gi, gn, gc, ge), (si, sn, sc, se) in (((i, n1, c1, e1), (j, n2, c2, e2)),
                                                       ((j, n2, c2, e2), (i, n1, c1, e1))):
                if not _implies(sc, gc):
                    continue
                clash = _tag_clash(ge, se)
                where = (f"triggers[{si}] ('{sn}') always fires together with triggers[{gi}] "
                         f"('{gn}'), whose conditions it includes, but ")
                if clash:
                    out.append((f"triggers[{si}]", where + f"one adds and the other removes "
                                                           f"tags {sorted(clash)}"))
                beaten = _outranked(se["to"], ge["to"], ranks, general_first=gi < si)
                if beaten:
                    out.append((f"triggers[{si}]", where + f"its escalation to {beaten} is "
                                f"always outranked by {sorted(ge['to'])}: it never takes effect"))
                if se["priority"] and ge["priority"] and \
                        top_priority(se["priority"]) != top_priority(se["priority"] | ge["priority"]):
                    out.append((f"triggers[{si}]", where + f"its priority {sorted(se['priority'])}"
                                f" is always outranked by {sorted(ge['priority'])}: it never "
                                f"takes effect"))
    return out


def _implies(specific: Mapping[str, set[str]], general: Mapping[str, set[str]]) -> bool:
    """Whenever `specific` holds, `general` holds (judged on the conditions' text)."""
    if not general["all"] <= specific["all"]:
        return False
    if not general["any"]:
        return True
    return bool(general["any"] & specific["all"]) or bool(
        specific["any"] and specific["any"] <= general["any"])


def _outranked(mine: set[str], theirs: set[str], ranks: Mapping[str, int], *,
               general_first: bool) -> str | None:
    if not mine or not theirs or mine & theirs or "up" in mine | theirs:
        return None
    if any(t not in ranks for t in mine | theirs):
        return None
    best_mine, best_theirs = max(ranks[t] for t in mine), max(ranks[t] for t in theirs)
    if best_theirs > best_mine or (best_theirs == best_mine and general_first):
        return str(sorted(mine))
    return None


def _canon(conds: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    def key(c):
        return json.dumps(c, sort_keys=True, default=str)
    return {k: frozenset(key(c) for c in _l_(conds.get(k))) for k in ("all", "any")}


def _effects(acts: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"add": set(), "remove": set(), "to": set(), "priority": set()}
    for a in acts:
        a = _d_(a)
        k = a.get("action")
        if k == "add_tags":
            out["add"].update(t for t in _l_(a.get("tags")) if isinstance(t, str))
        elif k == "remove_tags":
            out["remove"].update(t for t in _l_(a.get("tags")) if isinstance(t, str))
        elif k == "escalate" and isinstance(a.get("to"), str):
            out["to"].add(a["to"])
        elif k == "set_priority" and isinstance(a.get("priority"), str):
            out["priority"].add(a["priority"])
    return out


def _tag_clash(a: Mapping[str, Any], b: Mapping[str, Any]) -> set[str]:
    """Tags one trigger adds and the other removes."""
    return (a["add"] & b["remove"]) | (a["remove"] & b["add"])


def _conflict(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    if a["to"] and b["to"] and a["to"] != b["to"]:
        return f"escalates to {sorted(a['to'])} vs {sorted(b['to'])}"
    if a["priority"] and b["priority"] and a["priority"] != b["priority"]:
        return f"sets priority {sorted(a['priority'])} vs {sorted(b['priority'])}"
    clash = _tag_clash(a, b)
    if clash:
        return f"one adds and the other removes tags {sorted(clash)}"
    return None
