"""The sections of a handoff note, each a list of ready-to-print lines, in the note's order.

``sections(...)`` turns ``NoteFacts`` (``handoff_facts``) and what was read from the thread
(``handoff_thread``) into: summary, what the customer wants, deadline, impact, what was tried,
why it escalated, SLA, owner and next step, approver; then the optional evidence, promises,
risk signals and conversation. A required section is never empty: it says "none stated" or
"nothing recorded yet". ``n`` is the longest quote kept and ``k`` the most items per list, so
the renderer can shrink a note to the comment size limit.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping, Sequence

from tiergate.plugin.core.handoff_facts import NoteFacts, deadline_at
from tiergate.plugin.core.handoff_text import (INCOMPLETE_TAG, SUBJECT_CHARS, _ago, _channel,
                                               _clock_time, _minutes, _money, _segment, _span, clip,
                                               code, escape, quote)
from tiergate.plugin.core.handoff_thread import sentence_with
from tiergate.plugin.core.model import (ClockState, Enrichment, Escalation, FiredTrigger,
                                        Ticket)

NONE_STATED = "none stated"
NOTHING_YET = "nothing recorded yet"


_METRIC_NAMES = {"first_reply_time": "First reply", "next_reply_time": "Next reply",
                 "periodic_update_time": "Periodic update", "pausable_update_time": "Update",
                 "requester_wait_time": "Requester wait", "agent_work_time": "Agent work",
                 "resolution_time": "Resolution", "acknowledgement": "Promised acknowledgement",
                 "response_window": "Promised response"}


def _sla_lines(clocks: Sequence[ClockState], now: datetime) -> list[str]:
    def urgency(c: ClockState):
        return (not c.breached, c.paused, -c.pct_elapsed)

    lines = []
    for c in sorted(clocks or (), key=urgency):
        name = _METRIC_NAMES.get(c.metric, escape(c.metric.replace("_", " ")))
        unit = ", business hours" if c.business_hours else ""
        policy = f" ({escape(c.policy)})" if c.policy else ""
        if c.breached:
            over = c.elapsed_minutes - c.target_minutes
            lines.append(f"{name}{policy}: **BREACHED** {_minutes(over)} over "
                         f"(target {_minutes(c.target_minutes)}{unit})")
        elif c.paused:
            lines.append(f"{name}{policy}: paused, {_minutes(c.target_minutes - c.elapsed_minutes)}"
                         f" left of {_minutes(c.target_minutes)}{unit}")
        else:
            due = f", due {_clock_time(c.due_at, now)}" if c.due_at else ""
            lines.append(f"{name}{policy}: {_minutes(c.target_minutes - c.elapsed_minutes)} "
                         f"left of {_minutes(c.target_minutes)} ({c.pct_elapsed:.0f}% used{unit}){due}")
    return lines


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}" if abs(v) >= 1 else f"{v:.2f}"
    if isinstance(v, (list, tuple, set, frozenset)):
        return ", ".join(_fmt_value(x) for x in v) or "none"
    if isinstance(v, Mapping):
        return ", ".join(f"{k}={_fmt_value(x)}" for k, x in v.items())
    return str(v)


def _fmt_expected(expected: Any) -> str:
    """`` `2` (window_hours 24)`` for parametrised conditions, `` `vip` `` for plain ones."""
    if expected is None:
        return ""
    if isinstance(expected, Mapping) and "value" in expected:
        params = ", ".join(f"{escape(str(k).replace('_', ' '))} {escape(_fmt_value(v))}"
                           for k, v in expected.items() if k != "value")
        head = "" if expected["value"] is None else " " + code(_fmt_value(expected["value"]))
        return head + (f" ({params})" if params else "")
    return " " + code(_fmt_value(expected))


def _fired_list(fired: Any) -> list[FiredTrigger]:
    if fired is None:
        return []
    if isinstance(fired, FiredTrigger):
        return [fired]
    return [f for f in fired if isinstance(f, FiredTrigger)]


def _reason_lines(escalation: Escalation, fired: Any, manifest: Any, from_label: str,
                  to_label: str) -> list[str]:
    fired_all = _fired_list(fired)
    mine = [f for f in fired_all if f.name == escalation.trigger]
    route = f"{escape(from_label)} → {escape(to_label)}" if from_label else escape(to_label)
    kind = "functional" if escalation.kind == "functional" else "up the chain"
    lines = [f"Trigger {code(escalation.trigger)}: {route} ({kind})"]
    for f in mine[:1]:
        for cr in f.conditions:
            if not cr.held:
                continue
            op = cr.operator.replace("_", " ")
            expected = _fmt_expected(cr.expected)
            lines.append(f"{code(cr.field)} {escape(op)}{expected}: "
                         f"seen {code(_fmt_value(cr.actual))}")
    if escalation.after_hours:
        lines.append(f"After hours: the team is closed, on-call paged "
                     f"({code(escalation.oncall_route)})" if escalation.oncall_route else
                     "After hours: the team is closed and nobody was paged; it waits for opening")
    others = [f.name for f in fired_all if f.name != escalation.trigger]
    if others:
        lines.append("Also fired: " + ", ".join(code(o) for o in others))
    return lines


def _sentiment_trend(values: Sequence[float], shift: float) -> str | None:
    if not values or len(values) < 2:
        return None
    shown = list(values)[-6:]
    arrow = " → ".join(f"{v:+.1f}" for v in shown)
    more = "… " if len(values) > len(shown) else ""
    if shift <= -0.2:
        word = "worsening"
    elif shift >= 0.2:
        word = "improving"
    else:
        word = "steady"
    return f"Sentiment {word} over {len(values)} customer messages: {more}{arrow}"


def _risk_lines(ticket: Ticket, enrichment: Enrichment | None, n: int) -> list[str]:
    if enrichment is None:
        return []
    lines: list[str] = []
    comments = list(ticket.comments or ())
    by_tag: dict[str, list[str]] = {}
    for r in enrichment.risk_tags:
        c = comments[r.comment_index] if 0 <= r.comment_index < len(comments) else None
        phrase = f"{quote(r.phrase, min(n, 60))} ({_channel(c)})"
        by_tag.setdefault(r.tag, [])
        if len(by_tag[r.tag]) < 2:
            by_tag[r.tag].append(phrase)
    if by_tag:
        lines.append("Risk tags: " + "; ".join(f"{code(t)} {', '.join(p)}"
                                               for t, p in by_tag.items()))
    top = sorted(enrichment.reasons, key=lambda r: -abs(r.points))[:3]
    detail = ", ".join(f"{escape(r.signal)} {r.points:+g}" for r in top)
    lines.append(f"Attention score {enrichment.attention_score}/100"
                 + (f" ({detail})" if detail else ""))
    trend = _sentiment_trend(enrichment.comment_sentiments, enrichment.sentiment_shift)
    if trend:
        lines.append(trend)
    elif enrichment.sentiment_label and enrichment.sentiment_label != "neutral":
        lines.append(f"Sentiment {escape(enrichment.sentiment_label)} ({enrichment.sentiment:+.2f})")
    if enrichment.complaint:
        lines.append("Reads as a complaint")
    if ticket.satisfaction == "bad":
        lines.append("Customer rated satisfaction **bad**")
    tags = [t for t in ticket.tags or ()
            if not t.startswith(("tg_", "macro_")) and t != INCOMPLETE_TAG]
    if tags:
        lines.append("Ticket tags: " + ", ".join(code(t) for t in tags[:8]))
    return lines


def _customer_lines(ticket: Ticket, now: datetime, users: str | None, impact: str | None,
                    currency: str) -> list[str]:
    lines: list[str] = []
    org = ticket.organization
    if org is not None:
        bits = [f"**{escape(org.name)}**"]
        if org.segment:
            bits.append(_segment(org.segment))
        if org.account_value:
            bits.append(f"{_money(org.account_value, currency)}/yr")
        if org.renewal_at is not None:
            days = (org.renewal_at - now).days
            when = org.renewal_at.strftime("%b %d").replace(" 0", " ")
            bits.append(f"renewal in {days} days ({when})" if days >= 0 else
                        f"renewal date passed {-days} days ago")
        lines.append(", ".join(bits))
    if users:
        lines.append(f"Users affected: {users}")
    if impact:
        lines.append(f"Impact: {impact}")
    return lines


# -- the required sections ----------------------------------------------------------------------
_NUMBER = {1: "once", 2: "twice"}
_GENERIC_TAGS = frozenset({"problem", "complaint", "question"})


def _times(n: int) -> str:
    return _NUMBER.get(n, f"{n} times")


def summary_text(ticket: Ticket, enrichment: Enrichment | None, facts: NoteFacts,
                 now: datetime) -> str:
    """Two sentences that stand on their own: who reports what (and what it is flagged as);
    how often the customer wrote, how long the ticket is open, its priority."""
    org = ticket.organization
    who = "The customer"
    if org is not None:
        who = escape(org.name) + (f" ({_segment(org.segment)})" if org.segment else "")
    subject = clip(ticket.subject, SUBJECT_CHARS)
    if not subject and facts.contacts:
        first = clip(facts.contacts[0].body, SUBJECT_CHARS)
        subject = next((s for s in re.split(r"(?<=[.!?])\s+", first) if s), "")
    what = f"reports \u201c{escape(subject)}\u201d" if subject else "opened a request"
    tags = list(dict.fromkeys(r.tag for r in (enrichment.risk_tags if enrichment else ())
                              if r.tag not in _GENERIC_TAGS))
    if tags:
        names = [escape(t.replace("_", " ")) for t in tags[:3]]
        flagged = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        what += f", flagged as {flagged}"
    n = facts.contact_count
    channels = ", ".join(dict.fromkeys(_channel(c) for c in facts.contacts))
    opened = f" in the {_span(now - facts.opened_at)} since the ticket opened" \
        if facts.opened_at else ""
    wrote = (f"The customer has written {_times(n)} ({channels}){opened}" if n else
             f"The customer has not written yet{opened}")
    prio = f"; {escape(ticket.priority)} priority" if ticket.priority else ""
    return f"{who} {what}. {wrote}{prio}."


def want_lines(facts: NoteFacts, ticket: Ticket, now: datetime, n: int) -> list[str]:
    out = []
    for w in facts.wants:
        if w.stated and w.comment is not None:
            when = f", {_ago(w.comment.created_at, now)}" if w.comment.created_at else ""
            out.append(f"{quote(w.text, max(n, 120))} ({_channel(w.comment)}, customer{when})")
        else:
            out.append(f"Not said in words; the problem asks for {escape(w.text)}")
    return out or [NONE_STATED]


def deadline_lines(facts: NoteFacts, now: datetime, n: int) -> list[str]:
    if not facts.deadline:
        return [NONE_STATED]
    line = f"\u201c{escape(facts.deadline)}\u201d (the customer's words)"
    at = deadline_at(facts, now)
    if at is not None:
        day = at.strftime("%a %b %d").replace(" 0", " ")
        line += f": {day}, in about {_span(at - now)}" if at > now else f": {day}, passed"
    if facts.deadline_sentence and len(facts.deadline_sentence) > len(facts.deadline) + 10:
        line += f" \u2014 {quote(facts.deadline_sentence, max(n, 120))}"
    return [line]


def impact_lines(ticket: Ticket, enrichment: Enrichment | None, facts: NoteFacts,
                 users: str | None, handoff_impact: str | None, currency: str,
                 now: datetime) -> list[str]:
    st = facts.stakes
    out: list[str] = []
    if handoff_impact:
        out.append(f"Impact: {handoff_impact}")
    people = st.get("people_phrase")
    if people and st.get("people"):
        scope = " (everyone)" if st.get("everyone") else ""
        out.append(f"People affected: \u201c{escape(people)}\u201d{scope}")
    elif people and st.get("everyone"):
        out.append(f"People affected: everyone (\u201c{escape(people)}\u201d)")
    if users and (not people or escape(people).lower() not in users.lower()):
        out.append(f"Users affected: {users}")
    if st.get("scale_phrase") and st.get("scale_phrase") != people:
        out.append(f"Scale: \u201c{escape(st['scale_phrase'])}\u201d")
    asked = sorted((enrichment.amounts or {}).items()) if enrichment else []
    if asked:
        out.append("Money asked for: " + ", ".join(
            f"{escape(k)} {_money(float(v), currency)}" for k, v in asked))
    elif st.get("money_phrase"):
        out.append(f"Money at stake: \u201c{escape(st['money_phrase'])}\u201d")
    out += _customer_lines(ticket, now, None, None, currency)
    return out or [NONE_STATED]


def why_lines(ticket: Ticket, enrichment: Enrichment | None, reason: list[str],
              n: int) -> list[str]:
    """The rules (``reason``) and each risk reason with the customer's sentence it came from."""
    out = list(reason)
    if enrichment is None:
        return out
    comments = list(ticket.comments or ())
    seen: set[str] = set()
    for r in enrichment.risk_tags:
        if r.tag in seen or r.tag in _GENERIC_TAGS or len(seen) >= 4:
            continue
        seen.add(r.tag)
        c = comments[r.comment_index] if 0 <= r.comment_index < len(comments) else None
        text = sentence_with(c.body if c else ticket.description, r.phrase) or r.phrase
        where = f" ({_channel(c)})" if c is not None else ""
        out.append(f"Risk {code(r.tag)}: {quote(text, max(n, 120))}{where}")
    return out


def sla_section(clocks: Sequence[ClockState], now: datetime) -> list[str]:
    return _sla_lines(clocks, now) or ["no SLA target applies to this ticket"]


def owner_lines(facts: NoteFacts, escalation: Escalation, guidance: Sequence[str],
                now: datetime) -> list[str]:
    person = escape(facts.owner_name) if facts.owner_name else (
        f"agent #{facts.owner_id}" if facts.owner_id is not None else "nobody assigned yet")
    was = f" (was {escape(facts.from_label)})" if facts.from_label != facts.owner_label else ""
    out = [f"Owner now: {escape(facts.owner_label)}, {person}{was}"]
    steps = [escape(g) for g in guidance if g.strip()]
    if not steps:
        due = [c for c in facts.clocks if not c.paused and c.due_at is not None
               and c.metric not in ("resolution_time", "agent_work_time", "requester_wait_time")]
        first = min(due, key=lambda c: c.due_at) if due else None
        step = "Reply to the customer"
        if first is not None and first.breached:
            step += " now (the SLA target has passed)"
        elif first is not None:
            step += f" before {_clock_time(first.due_at, now)}"
        if facts.approver is not None and facts.approver.is_owner:
            step += f" and decide the {escape(facts.approver.kind)} yourself"
        steps = [step]
    if escalation.after_hours and escalation.oncall_route:
        steps.append("The team is closed: the on-call person takes it now")
    out += [f"Next step: {s}" for s in steps]
    if facts.opened_at is not None:
        since = (f"; with {escape(facts.tier_label)} for {_span(now - facts.tier_since)}"
                 if facts.tier_since is not None else "")
        out.append(f"Open {_span(now - facts.opened_at)}{since}")
    if facts.handoffs:
        moves = "; ".join(
            f"{escape(h.from_label)} \u2192 {escape(h.to_label)}"
            + (f" {_ago(h.at, now)}" if h.at else "") + (f" by {escape(h.by)}" if h.by else "")
            for h in facts.handoffs[-3:])
        more = f" (last 3 of {len(facts.handoffs)})" if len(facts.handoffs) > 3 else ""
        out.append(f"Previous handoffs: {len(facts.handoffs)}{more}: {moves}")
    else:
        out.append("Previous handoffs: none")
    return out


def approver_lines(facts: NoteFacts, currency: str) -> list[str]:
    a = facts.approver
    if a is None:
        return ["none needed: no amount with an approval limit was asked for"]
    who = f"{escape(a.person)} ({escape(a.label)})" if a.person else escape(a.label)
    limit = f"limit {_money(a.limit, currency)}" if a.limit is not None else "no limit set"
    what = f"the {escape(a.kind)} of {_money(a.amount, currency)}"
    if a.is_owner:
        return [f"{who}, the new owner, may approve {what} ({limit})"]
    return [f"{who} approves {what} ({limit})"]


__all__ = ["summary_text", "want_lines", "deadline_lines", "impact_lines", "why_lines",
           "sla_section", "owner_lines", "approver_lines", "NONE_STATED", "NOTHING_YET"]
