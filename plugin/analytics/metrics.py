"""Escalation metrics: pure functions over the decision log's rows (``TicketFacts``, ``ReviewRow``).

No I/O, no clock. The population of a period is every ticket *opened* in it (``created_at``, else
the first time tiergate saw it), escalated or not. Definitions (also in ``docs/metrics.md``):

- escalation rate: tickets with at least one escalation / tickets (goal < 10%).
- time to escalation: created -> first escalation, minutes (median, mean) over escalated tickets.
- post-escalation resolution time: first escalation -> resolution (minutes) over escalated tickets
  that are resolved now.
- CSAT: good / (good + bad) over rated tickets, escalated and other tickets separately.
- MTTR: mean minutes created -> resolution over tickets resolved now, overall and by priority.
- first-contact resolution: resolved tickets with <= 1 public agent reply, no reopen and no
  handoff / resolved tickets.
- reopen rate: tickets reopened at least once / tickets ever resolved.
- handoffs per ticket: group changes (from one group to another) per ticket.
- RCA frequency: reviewed escalations per root-cause category.

Breakdown keys of a ticket: ``type`` (issue type), ``risk_tag`` (every risk tag it carried, so a
ticket may count in several), ``agent`` and ``team`` (assignee and group when first escalated,
else now), ``priority`` (now), ``trigger`` (of the first escalation).
"""
from __future__ import annotations

import calendar
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from statistics import mean, median
from typing import Any, Callable, Iterable, Sequence

from tiergate.plugin.analytics.log_rows import ReviewRow, TicketFacts

GOAL_ESCALATION_RATE = 0.10
DIMENSIONS = ("type", "risk_tag", "agent", "team", "priority", "trigger")
NONE = "(none)"
NOT_ESCALATED = "(not escalated)"
UNASSIGNED = "(unassigned)"
TTE_BUCKETS: tuple[tuple[str, float], ...] = (   # label, upper bound in minutes (exclusive)
    ("<15m", 15), ("15-60m", 60), ("1-4h", 240), ("4-24h", 1440), ("1-3d", 4320), (">3d", float("inf")))


# -- periods ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """[start, end) in UTC; ``label`` is what reports print."""

    start: datetime | None
    end: datetime | None
    label: str

    @property
    def months(self) -> list[str] | None:
        """The YYYY-MM months the period covers (None: all time)."""
        if self.start is None or self.end is None:
            return None
        out, y, m = [], self.start.year, self.start.month
        while datetime(y, m, 1, tzinfo=timezone.utc) < self.end:
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out


ALL_TIME = Period(None, None, "all time")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> Period:
    """``"2024-05"`` -> the period May 2024; anything else -> ValueError naming the problem."""
    found = _MONTH.match(text.strip()) if isinstance(text, str) else None
    if not found:
        raise ValueError(f"month: {text!r} is not YYYY-MM (e.g. 2024-05)")
    year, month = int(found.group(1)), int(found.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"month: {text!r} has month {month:02d}; months run 01-12")
    if year < 1970:
        raise ValueError(f"month: {text!r}: year before 1970")
    start = datetime(year, month, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=calendar.monthrange(year, month)[1])
    return Period(start, end, f"{year:04d}-{month:02d}")


def month_of(at: datetime) -> str:
    at = at.astimezone(timezone.utc)
    return f"{at.year:04d}-{at.month:02d}"


def in_period(facts: Iterable[TicketFacts], period: Period | None) -> list[TicketFacts]:
    period = period or ALL_TIME
    out = []
    for f in facts:
        when = f.opened_at
        if period.start is not None and (when is None or when < period.start):
            continue
        if period.end is not None and (when is None or when >= period.end):
            continue
        out.append(f)
    return out


# -- helpers ------------------------------------------------------------------------------------
def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60.0


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _times(values: Sequence[float]) -> dict[str, Any]:
    return {"value": median(values) if values else None, "mean": mean(values) if values else None,
            "n": len(values)}


def is_resolved(f: TicketFacts) -> bool:
    return f.solved_at is not None


# -- the metrics --------------------------------------------------------------------------------
def escalation_rate(facts: Sequence[TicketFacts]) -> dict[str, Any]:
    escalated = sum(1 for f in facts if f.escalations)
    return {"value": _ratio(escalated, len(facts)), "escalated": escalated, "n": len(facts),
            "goal": GOAL_ESCALATION_RATE}


def time_to_escalation_values(facts: Sequence[TicketFacts]) -> list[float]:
    out = []
    for f in facts:
        first = f.first_escalation
        if first is not None and f.opened_at is not None:
            out.append(max(0.0, _minutes(f.opened_at, first.at)))
    return out


def time_to_escalation(facts: Sequence[TicketFacts]) -> dict[str, Any]:
    return _times(time_to_escalation_values(facts))


def post_escalation_resolution(facts: Sequence[TicketFacts]) -> dict[str, Any]:
    out = []
    for f in facts:
        first = f.first_escalation
        if first is not None and f.solved_at is not None and f.solved_at >= first.at:
            out.append(_minutes(first.at, f.solved_at))
    return _times(out)


def csat(facts: Sequence[TicketFacts], escalated: bool) -> dict[str, Any]:
    rated = [f for f in facts if f.satisfaction in ("good", "bad") and bool(f.escalations) == escalated]
    good = sum(1 for f in rated if f.satisfaction == "good")
    return {"value": _ratio(good, len(rated)), "good": good, "n": len(rated)}


def mttr(facts: Sequence[TicketFacts]) -> dict[str, Any]:
    values = [_minutes(f.opened_at, f.solved_at) for f in facts if is_resolved(f) and f.opened_at]
    return {"value": mean(values) if values else None, "n": len(values)}


def mttr_by_priority(facts: Sequence[TicketFacts]) -> dict[str, dict[str, Any]]:
    return {key: mttr(group) for key, group in group_by(facts, "priority").items()}


def first_contact_resolution(facts: Sequence[TicketFacts]) -> dict[str, Any]:
    resolved = [f for f in facts if is_resolved(f)]
    first = sum(1 for f in resolved if f.agent_replies <= 1 and f.reopens == 0 and f.handoffs == 0)
    return {"value": _ratio(first, len(resolved)), "first_contact": first, "n": len(resolved)}


def reopen_rate(facts: Sequence[TicketFacts]) -> dict[str, Any]:
    ever = [f for f in facts if f.first_solved_at is not None or f.solved_at is not None]
    reopened = sum(1 for f in ever if f.reopens > 0)
    return {"value": _ratio(reopened, len(ever)), "reopened": reopened, "n": len(ever)}


def handoffs_per_ticket(facts: Sequence[TicketFacts]) -> dict[str, Any]:
    total = sum(f.handoffs for f in facts)
    return {"value": total / len(facts) if facts else None, "handoffs": total, "n": len(facts)}


def rca_frequency(reviews: Iterable[ReviewRow]) -> dict[str, Any]:
    counts = Counter(r.root_cause for r in reviews if r.root_cause)
    ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return {"value": ordered, "n": sum(counts.values())}


METRICS: dict[str, Callable[[Sequence[TicketFacts]], dict[str, Any]]] = {
    "escalation_rate": escalation_rate,
    "time_to_escalation_minutes": time_to_escalation,
    "post_escalation_resolution_minutes": post_escalation_resolution,
    "csat_escalated": lambda facts: csat(facts, True),
    "csat_other": lambda facts: csat(facts, False),
    "mttr_minutes": mttr,
    "first_contact_resolution": first_contact_resolution,
    "reopen_rate": reopen_rate,
    "handoffs_per_ticket": handoffs_per_ticket,
}


# -- breakdowns ---------------------------------------------------------------------------------
def keys_of(f: TicketFacts, dimension: str) -> list[str]:
    """The breakdown key(s) of one ticket for one dimension (see the module docstring)."""
    first = f.first_escalation
    if dimension == "type":
        return [f.type or NONE]
    if dimension == "risk_tag":
        return list(f.risk_tags) or [NONE]
    if dimension == "agent":
        who = first.assignee_id if first is not None else f.assignee_id
        return [UNASSIGNED if who is None else str(who)]
    if dimension == "team":
        group = first.group_id if first is not None else f.group_id
        return [NONE if group is None else str(group)]
    if dimension == "priority":
        return [f.priority or NONE]
    if dimension == "trigger":
        return [(first.trigger or NONE) if first is not None else NOT_ESCALATED]
    raise ValueError(f"dimension: unknown {dimension!r}; known: {', '.join(DIMENSIONS)}")


def group_by(facts: Iterable[TicketFacts], dimension: str) -> dict[str, list[TicketFacts]]:
    groups: dict[str, list[TicketFacts]] = {}
    for f in facts:
        for key in keys_of(f, dimension):
            groups.setdefault(key, []).append(f)
    return dict(sorted(groups.items()))


def compute(facts: Sequence[TicketFacts], reviews: Iterable[ReviewRow] = (),
            dimensions: Sequence[str] = DIMENSIONS) -> dict[str, Any]:
    """Every metric over ``facts`` (already filtered to a period) and every breakdown."""
    reviews = [r for r in reviews if r.status == "reviewed"]
    by_ticket: dict[tuple[str, int], list[ReviewRow]] = {}
    for r in reviews:
        by_ticket.setdefault((r.helpdesk, r.ticket_id), []).append(r)

    def block(subset: Sequence[TicketFacts], subset_reviews: Iterable[ReviewRow]) -> dict[str, Any]:
        out = {name: fn(subset) for name, fn in METRICS.items()}
        out["rca_frequency"] = rca_frequency(subset_reviews)
        return out

    result = {"tickets": len(facts), "metrics": block(facts, reviews),
              "mttr_by_priority": mttr_by_priority(facts), "breakdowns": {}}
    for dim in dimensions:
        result["breakdowns"][dim] = {
            key: block(group, [r for f in group for r in by_ticket.get(f.key, [])])
            for key, group in group_by(facts, dim).items()}
    return result


# -- series for charts --------------------------------------------------------------------------
def _bucket_start(at: datetime, bucket: str) -> datetime:
    at = at.astimezone(timezone.utc)
    day = datetime(at.year, at.month, at.day, tzinfo=timezone.utc)
    if bucket == "day":
        return day
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return datetime(at.year, at.month, 1, tzinfo=timezone.utc)
    raise ValueError(f"bucket: unknown {bucket!r}; known: day, week, month")


def escalation_rate_series(facts: Sequence[TicketFacts], bucket: str | None = None) -> list[dict[str, Any]]:
    """Escalation rate per day / week / month of ticket creation (auto: day up to 62 days)."""
    dated = [f for f in facts if f.opened_at is not None]
    if not dated:
        return []
    if bucket is None:
        span = max(f.opened_at for f in dated) - min(f.opened_at for f in dated)
        bucket = "day" if span <= timedelta(days=62) else "week" if span <= timedelta(days=7 * 60) else "month"
    groups: dict[datetime, list[TicketFacts]] = {}
    for f in dated:
        groups.setdefault(_bucket_start(f.opened_at, bucket), []).append(f)
    out = []
    for start in sorted(groups):
        r = escalation_rate(groups[start])
        out.append({"bucket": start.date().isoformat(), "unit": bucket, "tickets": r["n"],
                    "escalated": r["escalated"], "rate": r["value"]})
    return out


def time_to_escalation_histogram(facts: Sequence[TicketFacts]) -> list[dict[str, Any]]:
    values = time_to_escalation_values(facts)
    out, lower = [], 0.0
    for label, upper in TTE_BUCKETS:
        out.append({"bucket": label, "count": sum(1 for v in values if lower <= v < upper)})
        lower = upper
    return out


def top_triggers(facts: Sequence[TicketFacts], limit: int = 8) -> list[dict[str, Any]]:
    """Triggers by number of tickets they fired on, and how many of those they escalated."""
    fired: Counter[str] = Counter()
    escalated: Counter[str] = Counter()
    for f in facts:
        fired.update({name for d in f.decisions for name in d.triggers})
        escalated.update({d.trigger for d in f.escalations if d.trigger})
    names = sorted(set(fired) | set(escalated), key=lambda n: (-fired[n], -escalated[n], n))
    return [{"trigger": n, "tickets": fired[n], "escalated": escalated[n]} for n in names[:limit]]
