"""SLA clocks computed from a ticket's history, and the instants at which they come due.

Pure: ``clocks(ticket, enrichment, manifest, now)`` reads only its arguments. Nothing is stored
between decisions: every clock is recomputed from the ticket's comments and audited status
changes, so a change of priority, segment or tightening input re-plans the clocks at once.

Policy choice: the first policy (manifest order) whose ``match`` covers the ticket as it is now
(``sla_match.covers``: priority and organization segment, unset = ``none``, group, organization,
type, channel, tags, custom fields); like Zendesk, targets are taken from the current policy and
measured from the metric's original start.

Metrics (each clock exists only while it is running or paused; a fulfilled metric has no clock):
- ``first_reply_time``: from creation to the first public human agent comment after the first
  comment (the description).
- ``next_reply_time``: after a first reply, from the oldest public customer comment not yet
  answered to the next public human agent comment.
- ``periodic_update_time`` / ``pausable_update_time``: from the latest public agent update
  (tiergate's own public notes count; creation if none) until the next one.
- ``requester_wait_time`` / ``agent_work_time`` / ``resolution_time``: from creation until solved.
"Human agent comment": author role ``agent``, public, and not written by tiergate (written by its
helpdesk user, ``helpdesk.bot_user_id``, default 299, or carrying one of its markers; its public
replies carry no ``[tiergate:…]`` marker).

Pauses: a clock is paused while the status is in the metric's ``pause_on`` (default pending and
hold; requester_wait_time: pending only), using ``ticket.changes`` (field ``status``), and stops
while solved/closed (a reopened ticket resumes). Solved or closed tickets have no clocks. Without
any audited status change, a pending/on-hold ticket is taken as open until ``updated_at``.

Tightening: each policy ``tighten`` rule whose ``when`` holds (all keys: segments, vip, renewal
within N days, attention score above X, account value above Y, priorities) offers
``target * factor`` or an absolute ``target_minutes``; the tightest target wins.

Micro-commitments: when a public reply by tiergate promises an acknowledgement or a response,
tiergate's private note of the same update carries the marker
``[tiergate-commitment:<kind>:<due ISO-8601 UTC>]`` (kind ``ack`` or ``response``; make it with
``commitment_marker``; compute the due instant with ``commitment_due``; ``plugin.core.commitments``
moves it out of the reply, customers never see it). A marker counts only in a comment written by
tiergate's own helpdesk user (private; a public one written before the marker moved still counts);
marker text from anyone else is ignored. The latest marker of each kind starts a clock (metric
``acknowledgement`` / ``response_window``, policy ``commitment``) from the note's time to the
promised instant, fulfilled by the next public human agent comment. Commitments do not pause.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from tiergate.plugin.core.calendar import ALWAYS_OPEN, MINUTE_US, Calendar, from_us, to_us
from tiergate.plugin.core.commitments import COMMITMENT_RE
from tiergate.plugin.core.model import (ClockState, Comment, Enrichment, Ticket, Timer,
                                        format_time, parse_time)
from tiergate.plugin.core.sla_config import (Commitments, MetricTarget, Policy, SlaConfig,
                                             Tighten, policy_calendar_name)
from tiergate.plugin.core.sla_match import covers

STOPPED = frozenset({"solved", "closed", "deleted"})
COMMITMENT_POLICY = "commitment"
COMMITMENT_KINDS = {"ack": "acknowledgement", "acknowledgement": "acknowledgement",
                    "response": "response_window", "response_window": "response_window"}
_MARKER_RE = COMMITMENT_RE
_TIERGATE_RE = re.compile(r"\[tiergate(?::|-commitment:)")
DEFAULT_BOT_USER_ID = 299


# -- helpers for templates / actions -------------------------------------------------------------
def commitment_marker(kind: str, due: datetime) -> str:
    """The commitment marker (in tiergate's private note): ``[tiergate-commitment:ack:2024-..Z]``."""
    short = {"acknowledgement": "ack", "response_window": "response"}.get(kind, kind)
    if short not in COMMITMENT_KINDS:
        raise ValueError(f"unknown commitment kind '{kind}'; allowed: ack, response")
    return f"[tiergate-commitment:{short}:{format_time(due.replace(microsecond=0))}]"


def commitment_due(manifest: Any, kind: str, at: datetime) -> datetime:
    """When a commitment of ``kind`` made at ``at`` comes due (business time if configured)."""
    sla, calendars = _sla_and_calendars(manifest)
    c = sla.commitments
    metric = COMMITMENT_KINDS.get(kind)
    if metric is None:
        raise ValueError(f"unknown commitment kind '{kind}'; allowed: ack, response")
    cal = _calendar(calendars, c.calendar or sla.default_calendar) if c.business_hours else ALWAYS_OPEN
    return from_us(cal.add_us(to_us(at), round(c.target(metric) * MINUTE_US)))


def is_tiergate_comment(comment: Comment) -> bool:
    return bool(_TIERGATE_RE.search(comment.body or ""))


# -- policy selection and tightening -------------------------------------------------------------
def _segment(ticket: Ticket) -> str:
    org = ticket.organization
    return (org.segment or "none").lower() if org is not None else "none"


def _priority(ticket: Ticket) -> str:
    return (ticket.priority or "none").lower()


def select_policy(sla: SlaConfig, ticket: Ticket) -> Policy | None:
    return next((policy for policy in sla.policies if covers(policy.match, ticket)), None)


def _is_vip(ticket: Ticket) -> bool:
    org = ticket.organization
    org_vip = org is not None and ((org.segment or "").lower() == "vip"
                                   or "vip" in {t.lower() for t in org.tags})
    return org_vip or "vip" in {t.lower() for t in ticket.tags}


def tighten_holds(rule: Tighten, ticket: Ticket, enrichment: Enrichment | None,
                  now: datetime) -> bool:
    w = rule.when
    org = ticket.organization
    if w.segments and _segment(ticket) not in w.segments:
        return False
    if w.vip is not None and _is_vip(ticket) != w.vip:
        return False
    if w.priorities and _priority(ticket) not in w.priorities:
        return False
    if w.renewal_within_days is not None:
        if org is None or org.renewal_at is None:
            return False
        left = org.renewal_at - now
        if left < timedelta(0) or left > timedelta(days=w.renewal_within_days):
            return False
    if w.attention_score_above is not None:
        if enrichment is None or not enrichment.attention_score > w.attention_score_above:
            return False
    if w.account_value_above is not None:
        if org is None or org.account_value is None or not org.account_value > w.account_value_above:
            return False
    return True


def effective_target(policy: Policy, metric: MetricTarget, ticket: Ticket,
                     enrichment: Enrichment | None, now: datetime) -> tuple[float, tuple[str, ...]]:
    """The metric's target after tightening, and the names (or indexes) of the rules applied."""
    target = metric.target_minutes
    applied: list[str] = []
    for i, rule in enumerate(policy.tighten):
        if rule.metrics and metric.metric not in rule.metrics:
            continue
        if not tighten_holds(rule, ticket, enrichment, now):
            continue
        offer = metric.target_minutes * rule.factor if rule.factor is not None else rule.target_minutes
        applied.append(rule.name or f"tighten[{i}]")
        target = min(target, offer)  # type: ignore[type-var]
    return target, tuple(applied)


# -- history -------------------------------------------------------------------------------------
def _norm_status(status: str | None) -> str:
    s = (status or "open").lower().replace("_", "-")
    return "hold" if s in ("on-hold", "onhold") else s


def status_timeline(ticket: Ticket) -> list[tuple[int, str]]:
    """[(from µs, status)] from creation on, built from the audited status changes."""
    created = to_us(ticket.created_at) if ticket.created_at else 0
    changes = sorted((c for c in ticket.changes if c.field == "status" and c.at is not None),
                     key=lambda c: c.at)
    current = _norm_status(ticket.status)
    if not changes and current not in ("new", "open") and ticket.updated_at is not None \
            and to_us(ticket.updated_at) > created:
        # no audited status history (a connector without audits): assume the ticket ran until
        # its last update and has been in its current status since
        return [(created, "open"), (to_us(ticket.updated_at), current)]
    first = _norm_status(changes[0].old if changes and changes[0].old else ticket.status)
    timeline = [(created, first)]
    for ch in changes:
        at = max(created, to_us(ch.at))
        status = _norm_status(ch.new)
        if timeline[-1][0] == at:
            timeline[-1] = (at, status)
        elif timeline[-1][1] != status:
            timeline.append((at, status))
    return timeline


def _running(timeline: list[tuple[int, str]], pauses: Iterable[str], start: int,
             end: int) -> list[tuple[int, int]]:
    """Segments of [start, end) during which the clock runs (not paused, not stopped)."""
    stopped = STOPPED | set(pauses)
    out: list[tuple[int, int]] = []
    for i, (at, status) in enumerate(timeline):
        nxt = timeline[i + 1][0] if i + 1 < len(timeline) else end
        s, e = max(at, start), min(nxt, end)
        if e > s and status not in stopped:
            if out and out[-1][1] == s:
                out[-1] = (out[-1][0], e)
            else:
                out.append((s, e))
    return out


@dataclass(frozen=True)
class _History:
    """The ticket's comments up to ``now`` with their instants (µs), oldest first."""

    created: int
    comments: tuple[tuple[int, Comment], ...]
    bots: frozenset[int] = frozenset({DEFAULT_BOT_USER_ID})


def _history(ticket: Ticket, now_us: int,
             bots: frozenset[int] = frozenset({DEFAULT_BOT_USER_ID})) -> _History:
    created = to_us(ticket.created_at) if ticket.created_at else now_us
    timed = sorted(((to_us(c.created_at), c.id, c) for c in ticket.comments
                    if c.created_at is not None), key=lambda x: (x[0], x[1]))
    return _History(created, tuple((us, c) for us, _id, c in timed if us <= now_us), bots)


def _bots(manifest: Any) -> frozenset[int]:
    """tiergate's own helpdesk user (``helpdesk.bot_user_id``; 299 when not set)."""
    bot = getattr(getattr(manifest, "helpdesk", None), "bot_user_id", None)
    return frozenset({int(bot) if bot is not None else DEFAULT_BOT_USER_ID})


def _human_reply(c: Comment, bots: frozenset[int] = frozenset({DEFAULT_BOT_USER_ID})) -> bool:
    return (c.public and c.author_role == "agent" and c.author_id not in bots
            and not is_tiergate_comment(c))


def _customer(c: Comment) -> bool:
    return c.public and c.author_role == "end-user"


def metric_start(metric: str, ticket: Ticket, now_us: int,
                 history: _History | None = None) -> int | None:
    """When the metric's current episode started, or None when it is fulfilled / not running."""
    h = history or _history(ticket, now_us)
    later = h.comments[1:]
    if metric == "first_reply_time":
        return None if any(_human_reply(c, h.bots) for _us, c in later) else h.created
    if metric == "next_reply_time":
        last_reply = None
        for i, (_us, c) in enumerate(later):
            if _human_reply(c, h.bots):
                last_reply = i
        if last_reply is None:
            return None
        for us, c in later[last_reply + 1:]:
            if _customer(c):
                return us
        return None
    if metric in ("periodic_update_time", "pausable_update_time"):
        last = h.created
        for us, c in later:
            if c.public and c.author_role == "agent":
                last = max(last, us)
        return last
    return h.created   # requester_wait_time, agent_work_time, resolution_time


# -- clock arithmetic ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    elapsed_us: int
    reached: dict[int, int | None]          # threshold µs -> instant µs (None: paused before)


def _plan(cal: Calendar, segments: list[tuple[int, int]], running_now: bool, now_us: int,
          thresholds: Sequence[int]) -> _Plan:
    """Elapsed business µs over the segments and the instant each threshold is (or will be)
    reached, in one walk over the calendar. The last segment ends at ``now``; if the clock is
    running, time continues after it."""
    todo = sorted(set(thresholds))
    reached: dict[int, int | None] = {t: None for t in thresholds}
    parts: list[tuple[int, int | None]] = list(segments)
    if running_now:
        parts.append((now_us, None))
    elapsed = 0            # business µs of the closed segments (up to now)
    total = 0              # including the open tail (for future thresholds)
    if cal.always_open:
        for s, e in parts:
            while todo and (e is None or total + (e - s) >= todo[0]):
                reached[todo[0]] = s + (todo[0] - total)
                todo.pop(0)
            if e is None:
                break
            total += e - s
        return _Plan(total, reached)
    if not parts:
        return _Plan(0, reached)
    spans = cal.spans_from(parts[0][0])
    current = next(spans, None)
    for s, e in parts:
        while current is not None:
            ss, se = current
            if se <= s:
                current = next(spans, None)
                continue
            if e is not None and ss >= e:
                break
            a = max(ss, s)
            b = se if e is None else min(se, e)
            part = b - a
            while todo and total + part >= todo[0]:
                reached[todo[0]] = a + (todo[0] - total)
                todo.pop(0)
            total += part
            if e is not None:
                elapsed += part
                if se > e:
                    break          # this open span continues into the next segment
            elif not todo:
                break
            current = next(spans, None)
    if not running_now:
        elapsed = total
    return _Plan(elapsed, reached)


def _clock(name: str, policy_name: str, target_min: float, business: bool, cal: Calendar,
           start: int, segments: list[tuple[int, int]], running_now: bool, now_us: int,
           warn_at: Sequence[int]) -> ClockState:
    target_us = max(1, round(target_min * MINUTE_US))
    warn_us = {p: (target_us * p + 99) // 100 for p in warn_at}
    plan = _plan(cal, segments, running_now, now_us, [target_us, *warn_us.values()])
    due = plan.reached[target_us]
    warns = tuple((p, format_time(from_us(plan.reached[u])))          # type: ignore[arg-type]
                  for p, u in sorted(warn_us.items()) if plan.reached[u] is not None)
    return ClockState(
        metric=name, policy=policy_name, target_minutes=target_min,
        elapsed_minutes=plan.elapsed_us / MINUTE_US,
        pct_elapsed=plan.elapsed_us * 100 / target_us,
        breached=plan.elapsed_us >= target_us, paused=not running_now, business_hours=business,
        started_at=from_us(start), due_at=from_us(due) if due is not None else None,
        warn_at=warns)


def _sla_and_calendars(manifest: Any) -> tuple[SlaConfig, Mapping[str, Calendar]]:
    if isinstance(manifest, SlaConfig):
        return manifest, {}
    if isinstance(manifest, Mapping):
        return manifest.get("sla") or SlaConfig(), manifest.get("calendars") or {}
    return getattr(manifest, "sla", None) or SlaConfig(), getattr(manifest, "calendars", None) or {}


def _calendar(calendars: Mapping[str, Calendar], name: str | None) -> Calendar:
    if name is None:
        return ALWAYS_OPEN
    cal = calendars.get(name)
    if cal is None:   # the manifest loader rejects unknown names; stay total anyway
        raise KeyError(f"unknown calendar '{name}'")
    return cal


def clocks(ticket: Ticket, enrichment: Enrichment | None, manifest: Any,
           now: datetime) -> tuple[ClockState, ...]:
    """Every running or paused SLA clock of ``ticket`` at ``now`` (policy metrics, then
    commitments). ``manifest`` is anything with ``.sla`` (SlaConfig) and ``.calendars``."""
    sla, calendars = _sla_and_calendars(manifest)
    status = _norm_status(ticket.status)
    if status in STOPPED:
        return ()
    now_us = to_us(now)
    timeline = status_timeline(ticket)
    history = _history(ticket, now_us, _bots(manifest))
    out: list[ClockState] = []
    policy = select_policy(sla, ticket)
    if policy is not None:
        for metric in policy.metrics:
            start = metric_start(metric.metric, ticket, now_us, history)
            if start is None or start > now_us:
                continue
            pauses = metric.pauses()
            target, _applied = effective_target(policy, metric, ticket, enrichment, now)
            cal = (_calendar(calendars, policy_calendar_name(sla, policy, metric))
                   if metric.business_hours else ALWAYS_OPEN)
            warn = metric.warn_at if metric.warn_at is not None else (
                policy.warn_at if policy.warn_at is not None else sla.warn_at)
            segments = _running(timeline, pauses, start, now_us)
            running = status not in pauses
            out.append(_clock(metric.metric, policy.name, target, metric.business_hours, cal,
                              start, segments, running, now_us, warn))
    out.extend(_commitment_clocks(history, sla, calendars, now_us))
    return tuple(out)


def _commitment_clocks(history: _History, sla: SlaConfig, calendars: Mapping[str, Calendar],
                       now_us: int) -> list[ClockState]:
    c: Commitments = sla.commitments
    latest: dict[str, tuple[int, int, int]] = {}       # metric -> (note µs, due µs, index)
    comments = history.comments
    for i, (us, com) in enumerate(comments):
        if com.author_id not in history.bots or "[tiergate-commitment:" not in com.body:
            continue
        for kind, due_text in _MARKER_RE.findall(com.body):
            metric = COMMITMENT_KINDS.get(kind)
            try:
                due = parse_time(due_text) if metric else None
            except ValueError:
                due = None
            if metric and due is not None:
                latest[metric] = (us, to_us(due), i)
    if not latest:
        return []
    cal = (_calendar(calendars, c.calendar or sla.default_calendar) if c.business_hours
           else ALWAYS_OPEN)
    out: list[ClockState] = []
    for metric in ("acknowledgement", "response_window"):
        if metric not in latest:
            continue
        start, due, index = latest[metric]
        if due <= start or any(_human_reply(x, history.bots) for _us, x in comments[index + 1:]):
            continue
        target_min = cal.business_us(start, due) / MINUTE_US
        if target_min <= 0:
            continue
        out.append(_clock(metric, COMMITMENT_POLICY, target_min, c.business_hours, cal, start,
                          [(start, now_us)] if now_us > start else [], True, now_us, sla.warn_at))
    return out


# -- timers and condition fields -----------------------------------------------------------------
def timers(clock_states: Iterable[ClockState]) -> tuple[Timer, ...]:
    """One Timer per warn stage not yet reached and per breach not yet reached, for clocks that
    are running (paused clocks resume on a ticket change, which re-plans)."""
    out: list[Timer] = []
    for c in clock_states:
        if c.paused:
            continue
        for pct, at in c.warn_at:
            if c.pct_elapsed < pct:
                out.append(Timer(at=parse_time(at), kind="sla", name=c.metric,   # type: ignore[arg-type]
                                 stage=f"warn:{pct}"))
        if not c.breached and c.due_at is not None:
            out.append(Timer(at=c.due_at, kind="sla", name=c.metric, stage="breach"))
    out.sort(key=lambda t: (t.at, t.name, t.stage))
    return tuple(out)


def stage(c: ClockState) -> str:
    """``breach``, ``warn:<highest pct reached>`` or ``ok``."""
    if c.breached:
        return "breach"
    hit = [p for p, _ in c.warn_at if c.pct_elapsed >= p]
    return f"warn:{max(hit)}" if hit else "ok"


def condition_fields(clock_states: Iterable[ClockState]) -> dict[str, Any]:
    """Values for manifest conditions: ``sla.<metric>.{pct_elapsed, breached, paused,
    remaining_minutes, target_minutes, elapsed_minutes, stage}``, ``sla.max_pct_elapsed``,
    ``sla.any_breached``, ``sla.breached_metrics``, ``sla.metrics`` (active). Absent metrics
    (fulfilled or not in the policy) are simply missing: conditions on them are false."""
    out: dict[str, Any] = {}
    states = list(clock_states)
    for c in states:
        p = f"sla.{c.metric}"
        out[f"{p}.pct_elapsed"] = c.pct_elapsed
        out[f"{p}.breached"] = c.breached
        out[f"{p}.paused"] = c.paused
        out[f"{p}.target_minutes"] = c.target_minutes
        out[f"{p}.elapsed_minutes"] = c.elapsed_minutes
        out[f"{p}.remaining_minutes"] = c.target_minutes - c.elapsed_minutes
        out[f"{p}.stage"] = stage(c)
    out["sla.max_pct_elapsed"] = max((c.pct_elapsed for c in states), default=0.0)
    out["sla.any_breached"] = any(c.breached for c in states)
    out["sla.breached_metrics"] = tuple(c.metric for c in states if c.breached)
    out["sla.metrics"] = tuple(c.metric for c in states)
    return out


__all__ = ["clocks", "timers", "stage", "condition_fields", "select_policy", "effective_target",
           "tighten_holds", "status_timeline", "metric_start", "commitment_marker",
           "commitment_due", "is_tiergate_comment", "COMMITMENT_POLICY"]
