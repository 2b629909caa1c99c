"""Reports over the decision log: a dict (JSON), Markdown, CSV, and a short text for the demo.

``report_dict(log, period)`` gathers every metric, breakdown, chart series and the review queue;
the renderers only format it. Rates are fractions (0.1 = 10%), durations minutes.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from typing import Any

from tiergate.plugin.analytics import metrics as m
from tiergate.plugin.analytics.log import DecisionLog

DEFINITIONS: dict[str, str] = {
    "escalation_rate": "tickets escalated at least once / tickets opened in the period (goal < 10%)",
    "time_to_escalation_minutes": "ticket created -> first escalation, median over escalated tickets",
    "post_escalation_resolution_minutes": "first escalation -> resolution, median over escalated tickets resolved now",
    "csat_escalated": "good / (good + bad) satisfaction ratings of escalated tickets",
    "csat_other": "good / (good + bad) satisfaction ratings of tickets never escalated",
    "mttr_minutes": "mean time from creation to resolution of tickets resolved now",
    "first_contact_resolution": "resolved tickets with <= 1 public agent reply, no reopen, no handoff / resolved tickets",
    "reopen_rate": "tickets reopened at least once / tickets ever resolved",
    "handoffs_per_ticket": "group-to-group reassignments / tickets",
    "rca_frequency": "reviewed escalations per root-cause category",
}
RATES = {"escalation_rate", "csat_escalated", "csat_other", "first_contact_resolution", "reopen_rate"}
DURATIONS = {"time_to_escalation_minutes", "post_escalation_resolution_minutes", "mttr_minutes"}
LABELS = {
    "escalation_rate": "Escalation rate", "time_to_escalation_minutes": "Time to escalation (median)",
    "post_escalation_resolution_minutes": "Post-escalation resolution (median)",
    "csat_escalated": "CSAT, escalated", "csat_other": "CSAT, other", "mttr_minutes": "MTTR",
    "first_contact_resolution": "First-contact resolution", "reopen_rate": "Reopen rate",
    "handoffs_per_ticket": "Handoffs per ticket", "rca_frequency": "Root causes (reviewed)",
}
DIMENSION_LABELS = {"type": "issue type", "risk_tag": "risk tag", "agent": "agent", "team": "team (group)",
                    "priority": "priority", "trigger": "trigger"}


def _period(period: m.Period | str | None) -> m.Period:
    if period is None:
        return m.ALL_TIME
    if isinstance(period, str):
        return m.parse_month(period)
    return period


def report_dict(log: DecisionLog, period: m.Period | str | None = None, *,
                now: datetime | None = None) -> dict[str, Any]:
    """Everything the report, the dashboard and ``data.json`` show, JSON-safe."""
    period = _period(period)
    facts = m.in_period(log.facts(period.start, period.end), period)
    reviews = log.reviews(months=period.months) if period.months is not None else log.reviews()
    result = m.compute(facts, reviews)
    subjects = {f.key: f.subject for f in facts}
    for r in reviews:
        if (r.helpdesk, r.ticket_id) not in subjects:
            found = log.ticket(r.helpdesk, r.ticket_id)
            subjects[(r.helpdesk, r.ticket_id)] = found.subject if found else None
    queue = sorted(reviews, key=lambda r: (r.status != "queued", r.month, r.sample, r.ticket_id))
    return {
        "period": period.label,
        "start": period.start.isoformat() if period.start else None,
        "end": period.end.isoformat() if period.end else None,
        "generated_at": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "tickets": result["tickets"],
        "metrics": result["metrics"],
        "mttr_by_priority": result["mttr_by_priority"],
        "breakdowns": result["breakdowns"],
        "group_names": {key: name for key in result["breakdowns"].get("team", {})
                        if key.isdigit() and (name := log.tier_of(int(key)))},
        "series": {
            "escalation_rate": m.escalation_rate_series(facts),
            "time_to_escalation": m.time_to_escalation_histogram(facts),
            "top_triggers": m.top_triggers(facts),
        },
        "review_queue": [{
            "helpdesk": r.helpdesk, "ticket_id": r.ticket_id, "subject": subjects.get((r.helpdesk, r.ticket_id)),
            "month": r.month, "sample": r.sample, "status": r.status, "necessary": r.necessary,
            "lower_tier_could_resolve": r.lower_tier_could_resolve, "root_cause": r.root_cause,
            "follow_up": r.follow_up, "follow_up_status": r.follow_up_status} for r in queue],
        "definitions": DEFINITIONS,
    }


# -- formatting -----------------------------------------------------------------------------------
def fmt_value(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name in RATES:
        return f"{value * 100:.1f}%"
    if name in DURATIONS:
        return fmt_minutes(value)
    if name == "rca_frequency":
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def fmt_minutes(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 90:
        return f"{value:.0f} min"
    if value < 48 * 60:
        return f"{value / 60:.1f} h"
    return f"{value / 1440:.1f} d"


def _md_escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


BREAKDOWN_COLUMNS = ("escalation_rate", "time_to_escalation_minutes", "post_escalation_resolution_minutes",
                     "csat_escalated", "csat_other", "mttr_minutes", "first_contact_resolution",
                     "reopen_rate", "handoffs_per_ticket")


def to_markdown(report: dict[str, Any]) -> str:
    out = [f"# Escalation report — {report['period']}", "",
           f"{report['tickets']} tickets opened in the period. Generated {report['generated_at']}.", "",
           "| Metric | Value | n | Definition |", "|---|---|---|---|"]
    for name, block in report["metrics"].items():
        value = fmt_value(name, block["value"])
        if name == "escalation_rate" and block["value"] is not None:
            value += " ✅" if block["value"] < m.GOAL_ESCALATION_RATE else " ⚠️ above the 10% goal"
        out.append(f"| {LABELS[name]} | {value} | {block['n']} | {DEFINITIONS[name]} |")
    out += ["", "## MTTR by priority", "", "| Priority | MTTR | resolved |", "|---|---|---|"]
    for key, block in report["mttr_by_priority"].items():
        out.append(f"| {_md_escape(key)} | {fmt_minutes(block['value'])} | {block['n']} |")
    for dim, groups in report["breakdowns"].items():
        out += ["", f"## By {DIMENSION_LABELS.get(dim, dim)}", "",
                "| " + " | ".join([dim, "tickets"] + [LABELS[c] for c in BREAKDOWN_COLUMNS]) + " |",
                "|" + "---|" * (len(BREAKDOWN_COLUMNS) + 2)]
        for key, block in groups.items():
            cells = [_md_escape(key), str(block["escalation_rate"]["n"])]
            cells += [fmt_value(c, block[c]["value"]) for c in BREAKDOWN_COLUMNS]
            out.append("| " + " | ".join(cells) + " |")
    out += ["", "## Top triggers", "", "| Trigger | tickets fired on | escalated |", "|---|---|---|"]
    for row in report["series"]["top_triggers"]:
        out.append(f"| {_md_escape(row['trigger'])} | {row['tickets']} | {row['escalated']} |")
    out += ["", "## Review queue", ""]
    if not report["review_queue"]:
        out.append("_No escalations sampled for review yet (`tiergate review sample --month YYYY-MM`)._")
    else:
        out += ["| Ticket | Month | Sample | Status | Root cause | Follow-up |", "|---|---|---|---|---|---|"]
        for r in report["review_queue"]:
            follow = f"{r['follow_up']} ({r['follow_up_status']})" if r["follow_up"] else "-"
            out.append(f"| #{r['ticket_id']} {_md_escape(r['subject'] or '')} | {r['month']} | {r['sample']} | "
                       f"{r['status']} | {r['root_cause'] or '-'} | {follow} |")
    return "\n".join(out) + "\n"


def csv_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Long format: section, dimension, key, metric, value, n."""
    rows: list[list[Any]] = [["period", "section", "dimension", "key", "metric", "value", "n"]]
    p = report["period"]

    def block_rows(section, dim, key, block):
        for name, b in block.items():
            if name == "rca_frequency":
                for cause, count in b["value"].items():
                    rows.append([p, section, dim, key, f"rca:{cause}", count, b["n"]])
            else:
                rows.append([p, section, dim, key, name, b["value"], b["n"]])

    block_rows("overall", "", "", report["metrics"])
    for key, b in report["mttr_by_priority"].items():
        rows.append([p, "mttr_by_priority", "priority", key, "mttr_minutes", b["value"], b["n"]])
    for dim, groups in report["breakdowns"].items():
        for key, block in groups.items():
            block_rows("breakdown", dim, key, block)
    return rows


def to_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in csv_rows(report):
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, default=str)


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "md":
        return to_markdown(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return to_json(report) + "\n"
    raise ValueError(f"format: {fmt!r} is not one of md, csv, json")


def summary_text(log: DecisionLog, period: m.Period | str | None = None) -> str:
    """A few lines for the end of ``tiergate demo``."""
    r = report_dict(log, period)
    x = r["metrics"]
    rate = x["escalation_rate"]
    verdict = "" if rate["value"] is None else (
        " — within the < 10% goal" if rate["value"] < m.GOAL_ESCALATION_RATE else " — above the < 10% goal")
    triggers = ", ".join(f"{t['trigger']} ({t['tickets']})" for t in r["series"]["top_triggers"][:5]) or "none fired"
    queued = sum(1 for q in r["review_queue"] if q["status"] == "queued")
    reviewed = sum(1 for q in r["review_queue"] if q["status"] == "reviewed")
    return "\n".join([
        f"Escalation report ({r['period']}): {r['tickets']} tickets seen, {rate['escalated']} escalated, "
        f"escalation rate {fmt_value('escalation_rate', rate['value'])}{verdict}",
        f"  time to escalation {fmt_value('time_to_escalation_minutes', x['time_to_escalation_minutes']['value'])}"
        f" (median) · post-escalation resolution "
        f"{fmt_value('post_escalation_resolution_minutes', x['post_escalation_resolution_minutes']['value'])}"
        f" · MTTR {fmt_value('mttr_minutes', x['mttr_minutes']['value'])}",
        f"  CSAT escalated {fmt_value('csat_escalated', x['csat_escalated']['value'])} / other "
        f"{fmt_value('csat_other', x['csat_other']['value'])} · first-contact resolution "
        f"{fmt_value('first_contact_resolution', x['first_contact_resolution']['value'])} · reopen rate "
        f"{fmt_value('reopen_rate', x['reopen_rate']['value'])} · handoffs/ticket "
        f"{fmt_value('handoffs_per_ticket', x['handoffs_per_ticket']['value'])}",
        f"  top triggers: {triggers}",
        f"  review queue: {queued} queued, {reviewed} reviewed",
    ])
