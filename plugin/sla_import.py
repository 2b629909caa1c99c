"""``tiergate import-sla``: the desk's SLA policies and schedules as the manifest's ``sla`` and
``calendars`` keys.

Reads Zendesk's ``/api/v2/slas/policies`` (``{"sla_policies": [{"id", "title", "position",
"filter": {"all": [...], "any": [...]}, "policy_metrics": [...]}]}``),
``/api/v2/business_hours/schedules`` and each schedule's holidays, and prints (or with
``--output`` writes) the two keys as JSON (``plugin/core/sla_schema.py`` and ``calendar_schema.py``
shapes). Zendesk's targets are per priority, so each policy becomes one manifest policy per
priority it targets, in Zendesk's order (first match wins in both). Its filter becomes the
policy's ``match`` (``plugin/sla_filters.py``: priority, group, organization, ticket type, channel,
tags, custom fields); a filter ``any`` over different keys becomes one policy per condition.

Nothing is dropped silently: every filter condition that has no ``match`` equivalent is named on
stderr (``skipped: policy 'TITLE' (slas/policies[i]): filter.all: FIELD OPERATOR VALUE: why``), as
is every policy metric that cannot be imported; the rest is still written. Exit status: 0 when all
was imported, 2 when something was skipped (the output holds the rest), 1 when the desk could not
be read. An unknown time zone or business hours without a schedule are warnings (``warning:``):
imported with UTC / calendar hours, to be fixed in the manifest.
"""
from __future__ import annotations

import json
import re
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from tiergate.plugin.core.sla_config import METRICS
from tiergate.plugin.install import _pages, zendesk_desk
from tiergate.plugin.rails_zones import RAILS_ZONES
from tiergate.plugin.sla_filters import filter_matches
from tiergate.runtime.config import Settings

EXIT_SKIPPED = 2

ZENDESK_PRIORITIES = ("low", "normal", "high", "urgent")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "unnamed"


def _iana(zone: str, warn: Callable[[str], None], where: str) -> str:
    name = RAILS_ZONES.get(zone, zone)
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        warn(f"{where}: time zone {zone!r} is not known here; using UTC — fix it in the manifest")
        return "UTC"


def _calendars(schedules: list[dict], holidays: Mapping[Any, list[dict]],
               warn: Callable[[str], None]) -> dict[str, Any]:
    calendars: dict[str, Any] = {}
    for i, sched in enumerate(sorted(schedules, key=lambda s: (s.get("position") or 0, s.get("id") or 0))):
        name = _slug(sched.get("name") or f"schedule_{sched.get('id')}")
        while name in calendars:
            name += "_2"
        intervals = [{"start_time": int(iv["start_time"]), "end_time": int(iv["end_time"])}
                     for iv in sched.get("intervals") or []]
        cal: dict[str, Any] = {"time_zone": _iana(sched.get("time_zone") or "UTC", warn, f"schedules[{i}]")}
        if intervals:
            cal["intervals"] = intervals
        else:
            cal["always_open"] = True
            warn(f"schedules[{i}] {sched.get('name')!r}: no intervals; imported as always open")
        dates: list[str] = []
        for h in holidays.get(sched.get("id"), []):
            start = date.fromisoformat(h["start_date"])
            end = date.fromisoformat(h.get("end_date") or h["start_date"])
            while start <= end:
                dates.append(start.isoformat())
                start += timedelta(days=1)
        if dates:
            cal["holidays"] = {"dates": sorted(set(dates))}
        calendars[name] = cal
    return calendars


def _metrics(pol: Mapping[str, Any], where: str, has_calendar: bool, warn: Callable[[str], None],
             skip: Callable[[str], None]) -> dict[str, list[dict[str, Any]]]:
    """The policy's metrics by priority (first of each metric kept)."""
    by_priority: dict[str, list[dict[str, Any]]] = {}
    for m in pol.get("policy_metrics") or []:
        prio = m.get("priority")
        if prio not in ZENDESK_PRIORITIES:
            skip(f"{where}: metric {m.get('metric')} for priority {prio!r}: not a Zendesk priority")
            continue
        if m.get("metric") not in METRICS:
            skip(f"{where}: metric {m.get('metric')!r} for priority {prio}: the manifest has no such "
                 f"metric (known: {', '.join(METRICS)})")
            continue
        try:
            target = float(m["target"])
            if not target > 0 or target == float("inf"):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            skip(f"{where}: metric {m['metric']} for priority {prio}: target {m.get('target')!r} is not a "
                 "positive number of minutes")
            continue
        metric = {"metric": m["metric"], "target_minutes": target,
                  "business_hours": bool(m.get("business_hours"))}
        if metric["business_hours"] and not has_calendar:
            warn(f"{where}: {m['metric']} uses business hours but the desk has no schedule; imported "
                 "as calendar hours")
            metric["business_hours"] = False
        listed = by_priority.setdefault(prio, [])
        if all(x["metric"] != metric["metric"] for x in listed):
            listed.append(metric)
    return by_priority


def _match_json(match: Mapping[str, tuple], prio: str) -> dict[str, Any]:
    out: dict[str, Any] = {"priorities": [prio]}
    for key, values in sorted(match.items()):
        if key == "priorities":
            continue
        out[key] = {k: list(v) for k, v in values} if key == "fields" else list(values)
    return out


def sla_from_zendesk(policies: list[dict], schedules: list[dict], holidays: Mapping[Any, list[dict]],
                     warn: Callable[[str], None], skip: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Zendesk SLA policies + schedules -> ``{"calendars": {...}, "sla": {...}}`` (manifest form).
    ``warn`` gets the lossy-but-imported notes; ``skip`` (default: ``warn``) every filter
    condition, metric or policy left out, with the reason."""
    skip = skip or warn
    calendars = _calendars(schedules, holidays, warn)
    default_calendar = next(iter(calendars), None)
    out_policies: list[dict[str, Any]] = []
    used: set[str] = set()
    for i, pol in enumerate(sorted(policies, key=lambda p: (p.get("position") or 0, p.get("id") or 0))):
        title = pol.get("title") or f"policy {pol.get('id')}"
        where = f"policy {title!r} (slas/policies[{i}])"
        matches, skipped = filter_matches(pol.get("filter"))
        for s in skipped:
            skip(f"{where}: {s.describe()}")
        if not matches:
            flt = pol.get("filter") if isinstance(pol.get("filter"), Mapping) else {}
            any_conds = flt.get("any") or []
            any_conds = any_conds if isinstance(any_conds, list) else [any_conds]
            if any_conds and sum(s.where == "any" for s in skipped) == len(any_conds):
                skip(f"{where}: not imported: none of its filter.any conditions can be expressed")
            else:
                skip(f"{where}: not imported: as far as its filter can be expressed, it matches no ticket")
            continue
        by_priority = _metrics(pol, where, default_calendar is not None, warn, skip)
        for n, match in enumerate(matches):
            admitted = match.get("priorities") or ZENDESK_PRIORITIES
            for prio in ZENDESK_PRIORITIES:
                metrics = by_priority.get(prio)
                if not metrics or prio not in admitted:
                    continue
                name = f"{_slug(title)}_{prio}" if len(matches) == 1 else f"{_slug(title)}_{n + 1}_{prio}"
                while name in used:
                    name += "_2"
                used.add(name)
                out_policies.append({"name": name, "match": _match_json(match, prio), "metrics": metrics})
    sla: dict[str, Any] = {"policies": out_policies}
    if default_calendar is not None:
        sla["default_calendar"] = default_calendar
    return {"calendars": calendars, "sla": sla}


@click.command("import-sla")
@click.option("--helpdesk", type=click.Choice(["zendesk"]), default="zendesk", show_default=True)
@click.option("--output", "output", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JSON to this file instead of stdout.")
def import_sla(helpdesk: str, output: Path | None) -> None:
    """Print the desk's SLA policies and schedules as the manifest's ``sla`` / ``calendars`` keys;
    exit 2 when a filter condition or metric could not be imported (each is named on stderr)."""
    desk = zendesk_desk(Settings.from_env(), echo=lambda s: click.echo(s, err=True))
    policies = _pages(desk, "/api/v2/slas/policies", "sla_policies")
    schedules = _pages(desk, "/api/v2/business_hours/schedules", "schedules")
    holidays: dict[Any, list[dict]] = {}
    for sched in schedules:
        data = desk.call("GET", f"/api/v2/business_hours/schedules/{sched['id']}/holidays", ok=(404,))
        holidays[sched["id"]] = (data or {}).get("holidays") or []
    skipped: list[str] = []

    def skip(message: str) -> None:
        skipped.append(message)
        click.echo(f"skipped: {message}", err=True)

    doc = sla_from_zendesk(policies, schedules, holidays, lambda m: click.echo(f"warning: {m}", err=True),
                           skip)
    text = json.dumps(doc, indent=2, sort_keys=True)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}: {len(doc['sla']['policies'])} policies, "
                   f"{len(doc['calendars'])} calendars", err=True)
    else:
        click.echo(text)
    if skipped:
        click.echo(f"import-sla: {len(skipped)} item(s) skipped (named above); the rest was imported",
                   err=True)
        sys.exit(EXIT_SKIPPED)
