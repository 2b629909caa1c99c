"""Review verdicts as feedback: training labels for ``tiergate train`` and the rules reviewers
judged wrong (``tiergate review rules``).

A verdict is a reviewed ``tg_reviews`` row (``tiergate review record``). As a training label for
its ticket (the history row whose ``id`` is the ticket id), it overrides the level the history
derived from the groups the ticket passed through:

- ``--level N`` given: level N;
- else judged unnecessary (``--necessary no``) or resolvable by a lower tier (``--lower-tier
  yes``): level 0 (it should not have been escalated);
- else judged necessary (``--necessary yes``): at least level 1 (the history's level when higher).

A ticket reviewed in several months takes its latest verdict. The rules report counts, per rule
(the trigger of the escalation reviewed: the review's decision, else the ticket's first
escalation in the review's month), the escalations whose necessity was judged and those judged
unnecessary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.analytics.log_rows import DecisionRow, ReviewRow, TicketFacts
from tiergate.plugin.analytics.metrics import month_of


@dataclass(frozen=True)
class Verdict:
    """One ticket's latest reviewed verdict."""

    ticket_id: int
    necessary: bool | None
    lower_tier_could_resolve: bool | None
    level: int | None

    def label(self, history_level: int) -> int | None:
        """The level to train on instead of ``history_level``; None: the verdict sets no label."""
        if self.level is not None:
            return self.level
        if self.necessary is False or self.lower_tier_could_resolve is True:
            return 0
        if self.necessary is True:
            return max(history_level, 1)
        return None


def verdicts(reviews: Iterable[ReviewRow], helpdesk: str) -> dict[int, Verdict]:
    """The latest reviewed verdict per ticket of ``helpdesk`` that sets a label."""
    out: dict[int, Verdict] = {}
    done = [r for r in reviews if r.helpdesk == helpdesk and r.status == "reviewed"]
    for r in sorted(done, key=lambda r: (r.month, str(r.updated_at or r.created_at), r.id)):
        v = Verdict(int(r.ticket_id), r.necessary, r.lower_tier_could_resolve, r.level)
        if v.label(0) is not None:
            out[v.ticket_id] = v
    return out


def relabeller(found: dict[int, Verdict]):
    """``relabel(id, level)`` for ``nlp.records.read_labelled``: a history row's verdict level."""
    def relabel(row_id: Any, level: int) -> int | None:
        try:
            verdict = found.get(int(row_id))
        except (TypeError, ValueError):
            return None
        return verdict.label(level) if verdict is not None else None
    return relabel


def _reviewed_escalation(review: ReviewRow, facts: TicketFacts | None) -> DecisionRow | None:
    if facts is None:
        return None
    escalations = facts.escalations
    if review.decision_id is not None:
        found = next((d for d in escalations if d.id == review.decision_id), None)
        if found is not None:
            return found
    in_month = [d for d in escalations if month_of(d.at) == review.month]
    return (in_month or list(escalations) or [None])[0]


def rules_judged(log: DecisionLog, months: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Per rule: escalations whose necessity reviewers judged, how many they judged unnecessary,
    and the share; rules with unnecessary escalations first (highest share, then count)."""
    reviews = [r for r in (log.reviews(months=months) if months is not None else log.reviews())
               if r.status == "reviewed" and r.necessary is not None]
    by_rule: dict[str, dict[str, Any]] = {}
    for r in reviews:
        esc = _reviewed_escalation(r, log.ticket(r.helpdesk, r.ticket_id))
        rule = (esc.trigger if esc is not None else None) or "(unknown rule)"
        row = by_rule.setdefault(rule, {"rule": rule, "reviewed": 0, "unnecessary": 0, "tickets": []})
        row["reviewed"] += 1
        if r.necessary is False:
            row["unnecessary"] += 1
            row["tickets"].append(f"{r.helpdesk}#{r.ticket_id}")
    rows = list(by_rule.values())
    for row in rows:
        row["share"] = row["unnecessary"] / row["reviewed"]
    return sorted(rows, key=lambda x: (-x["share"], -x["unnecessary"], x["rule"]))


def rules_markdown(rows: list[dict[str, Any]]) -> str:
    """The rules report as a Markdown table (rules with no unnecessary escalation counted below)."""
    wrong = [r for r in rows if r["unnecessary"]]
    out = ["# Rules whose escalations reviewers judged unnecessary", ""]
    if not wrong:
        out.append("No reviewed escalation was judged unnecessary." if rows else
                   "No review has judged an escalation yet (`tiergate review record --necessary yes|no`).")
    else:
        out += ["| Rule | Escalations reviewed | Judged unnecessary | Share | Tickets |", "|---|---|---|---|---|"]
        for r in wrong:
            rule = str(r["rule"]).replace("|", "\\|")
            out.append(f"| {rule} | {r['reviewed']} | {r['unnecessary']} | {r['share']:.0%} | "
                       f"{', '.join(r['tickets'])} |")
    fine = [r for r in rows if not r["unnecessary"]]
    if fine and wrong:
        out += ["", f"{len(fine)} other rule(s) reviewed: every judged escalation necessary "
                    f"({sum(r['reviewed'] for r in fine)} escalations)."]
    return "\n".join(out) + "\n"
