"""``tiergate simulate``: example tickets through the worker's decision path on a simulated clock.

Each line of ``--tickets`` is an example ticket (``examples/tickets.jsonl`` format, HACKING.md).
By default a ticket reaches tiergate whole at the examples' "now", as in ``tiergate demo`` (the
ticket imported with its history): the first decision is taken at "now". With ``--replay`` it is
replayed from its creation instead: the clock steps to every comment's instant. Either way the
clock then steps to every timer a decision asked for (time conditions, SLA stages), up to "now"
(``--horizon`` minutes further if given). Every decision goes through the worker's own path
(``jobs.ticket_decision.decide_ticket``: cleaning, enrichment within the budgets, decide with its
fallbacks) and its write rule (``jobs.process.writes``); a written update is applied to the
simulated ticket (tags, group, assignee, priority, notes), so fire-once and escalations behave as
live, and is followed one second later by another decision (the helpdesk's webhook for the
change tiergate itself made).

Reports what escalated, when, to which tier and why; the escalation rate; fires per trigger;
SLA warnings/breaches per ticket (``--json``); and with ``--against B`` the difference between
two manifests.
"""
from __future__ import annotations

import dataclasses
import heapq
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import click

from tiergate.jobs.runtime import Runtime, enricher_for
from tiergate.jobs.ticket_decision import decide_ticket, writes
from tiergate.plugin.core.errors import ManifestError
from tiergate.plugin.core.manifest import load_manifest
from tiergate.plugin.core.manifest_model import Manifest
from tiergate.plugin.core.model import (Change, Comment, Enrichment, Organization, Ticket, TicketUpdate,
                                        format_time, parse_time)
from tiergate.plugin.core.sla import stage
from tiergate.plugin.examples import by_customer, is_public, read_examples
from tiergate.plugin.manifest_cli import chosen_manifest
from tiergate.runtime.config import Settings

BOT_ID = 299
REQUESTER_BASE = 5000
MAX_STEPS = 500
FOLLOW_UP = timedelta(seconds=1)


# --------------------------------------------------------------------------------------------
# examples -> tickets
# --------------------------------------------------------------------------------------------
def ticket_from_example(row: dict[str, Any], now: datetime, ticket_id: int) -> Ticket:
    """The ticket as it stands at ``now`` (comments at ``now - minutes_ago``)."""
    created = now - timedelta(minutes=int(row.get("age_minutes") or 0))
    requester = REQUESTER_BASE + ticket_id
    comments = [Comment(id=ticket_id * 1000, author_id=requester, author_role="end-user",
                        body=row.get("description") or "", public=True, created_at=created,
                        channel=row.get("channel") or "web")]
    later = list(row.get("comments") or ())
    if later and by_customer(later[0]) and \
            str(later[0].get("body") or "").strip() == str(row.get("description") or "").strip():
        later = later[1:]     # an export that lists the description again as the first comment
    for i, c in enumerate(later, 1):
        is_agent = not by_customer(c)
        comments.append(Comment(
            id=ticket_id * 1000 + i,
            author_id=(row.get("assignee_id") or 201) if is_agent else requester,
            author_role="agent" if is_agent else "end-user", body=c.get("body") or "",
            public=is_public(c),
            created_at=now - timedelta(minutes=int(c.get("minutes_ago") or 0)),
            channel=c.get("channel") or row.get("channel") or "web"))
    comments.sort(key=lambda c: c.created_at)
    org = None
    o = row.get("organization")
    if o:
        renewal = o.get("renewal_in_days")
        org = Organization(id=9000 + ticket_id, name=o.get("name") or "", segment=o.get("segment"),
                           account_value=o.get("account_value"),
                           renewal_at=None if renewal is None else now + timedelta(days=renewal),
                           tags=tuple(o.get("tags") or ()), fields=dict(o.get("fields") or {}))
    return Ticket(
        id=ticket_id, subject=row.get("subject") or "", description=row.get("description") or "",
        status=row.get("status") or "new", priority=row.get("priority"), type=row.get("type"),
        group_id=row.get("group_id"), assignee_id=row.get("assignee_id"),
        requester_id=requester, organization_id=org.id if org else None,
        tags=tuple(row.get("tags") or ()), channel=row.get("channel") or "web",
        created_at=created, updated_at=comments[-1].created_at if comments else created,
        custom_fields=dict(row.get("custom_fields") or {}), comments=tuple(comments),
        organization=org)


def at_instant(full: Ticket, final_status: str, t: datetime) -> Ticket:
    """The ticket's history cut at ``t``: comments up to ``t``; status new until an agent
    wrote, then open; the final status once the last comment is in."""
    comments = tuple(c for c in full.comments if c.created_at <= t)
    last = full.comments[-1].created_at if full.comments else full.created_at
    if t >= last:
        status = final_status
    else:
        status = "open" if any(c.author_role == "agent" for c in comments) else "new"
    return dataclasses.replace(full, comments=comments, status=status,
                               updated_at=comments[-1].created_at if comments else full.created_at)


def apply_update(ticket: Ticket, update: TicketUpdate, t: datetime, next_id: int) -> Ticket:
    """What the helpdesk would hold after the write (tiergate's notes become comments)."""
    tags = [x for x in ticket.tags if x not in set(update.remove_tags)]
    tags += [x for x in update.add_tags if x not in tags]
    changes = list(ticket.changes)
    kw: dict[str, Any] = {}
    for name in ("group_id", "assignee_id", "priority"):
        new = getattr(update, name)
        if new is not None and new != getattr(ticket, name):
            changes.append(Change(at=t, field=name, old=getattr(ticket, name), new=new,
                                  author_id=BOT_ID))
            kw[name] = new
    notes = tuple(Comment(id=next_id + i, author_id=BOT_ID, author_role="agent", body=n.body,
                          public=n.public, created_at=t) for i, n in enumerate(update.notes))
    return dataclasses.replace(ticket, tags=tuple(tags), changes=tuple(changes),
                               comments=ticket.comments + notes, updated_at=t, **kw)


# --------------------------------------------------------------------------------------------
# replay
# --------------------------------------------------------------------------------------------
@dataclass
class TicketReport:
    external_id: str
    subject: str
    escalations: list[dict[str, Any]] = field(default_factory=list)
    fired: list[dict[str, Any]] = field(default_factory=list)
    sla: list[dict[str, Any]] = field(default_factory=list)
    final_group_id: int | None = None
    final_priority: str | None = None
    final_tags: list[str] = field(default_factory=list)
    decisions: int = 0

    @property
    def escalated(self) -> bool:
        return bool(self.escalations)

    def to_dict(self) -> dict[str, Any]:
        return {"external_id": self.external_id, "subject": self.subject,
                "escalated": self.escalated, "escalations": self.escalations,
                "fired": self.fired, "sla_events": self.sla, "decisions": self.decisions,
                "final_group_id": self.final_group_id, "final_priority": self.final_priority,
                "final_tags": self.final_tags}


def neutral_enrichment(ticket: Ticket, now: datetime) -> Enrichment:
    return Enrichment(attention_score=0, sentiment=0.0, sentiment_label="neutral", complaint=False)


def make_enricher(manifest: Manifest) -> Callable[[Ticket, datetime], Enrichment]:
    """The worker's enricher for the manifest."""
    return enricher_for(manifest).enrich


@dataclass(frozen=True)
class _Enricher:
    """An enrich function where the decision path expects an enricher."""

    enrich: Callable[[Ticket, datetime], Enrichment]


def offline_runtime() -> Runtime:
    """The worker's runtime without Redis or a helpdesk: settings from the environment only."""
    return Runtime(settings=Settings.from_env(), conn=None, connector=None, manifests=None)


def replay(row: dict[str, Any], manifest: Manifest, now: datetime, ticket_id: int,
           enrich: Callable[[Ticket, datetime], Enrichment], horizon_minutes: float = 0.0,
           *, from_creation: bool = True, runtime: Runtime | None = None) -> TicketReport:
    full = ticket_from_example(row, now, ticket_id)
    final_status = full.status
    end = now + timedelta(minutes=horizon_minutes)
    report = TicketReport(str(row.get("external_id") or ticket_id), full.subject)
    rt = runtime or offline_runtime()
    enricher = _Enricher(enrich)
    events: list[tuple[datetime, int, str]] = []
    seq = 0
    if from_creation:
        for c in full.comments:
            events.append((c.created_at, seq, "comment"))
            seq += 1
    events.append((now, seq, "now"))
    heapq.heapify(events)
    state: frozenset[str] = frozenset()
    live = at_instant(full, final_status, full.created_at if from_creation else now)  # the helpdesk copy
    own: list[Comment] = []
    extra_changes: list[Change] = []
    seen_sla: set[tuple[str, str, str]] = set()
    last_t = None
    steps = 0
    while events and steps < MAX_STEPS:
        t, _, kind = heapq.heappop(events)
        if t > end or (last_t is not None and t <= last_t):
            continue
        steps += 1
        last_t = t
        base = at_instant(full, final_status, t)
        ticket = dataclasses.replace(
            base, tags=live.tags, group_id=live.group_id, assignee_id=live.assignee_id,
            priority=live.priority, changes=tuple(extra_changes),
            comments=tuple(sorted(base.comments + tuple(own), key=lambda c: c.created_at)))
        _, _, d = decide_ticket(rt, enricher, ticket, manifest, t, state, None)
        report.decisions += 1
        state = frozenset(d.fired_state)
        for f in d.fired:
            report.fired.append({"at": format_time(t), "trigger": f.name,
                                 "held": [c.to_dict() for c in f.conditions if c.held]})
        if d.escalation is not None:
            e = d.escalation
            report.escalations.append({"at": format_time(t), "to_tier": e.to_tier, "kind": e.kind,
                                       "from_tier": e.from_tier, "trigger": e.trigger,
                                       "group_id": e.group_id, "owner_id": e.owner_id,
                                       "after_hours": e.after_hours,
                                       "oncall_route": e.oncall_route,
                                       "reasons": list(d.reasons)})
        _sla_events(d, t, report, seen_sla)
        written = writes(d)
        if written:
            updated = apply_update(ticket, d.update, t, 10_000_000 + len(own) * 10)
            own.extend(updated.comments[len(ticket.comments):])
            extra_changes = list(updated.changes)
            live = updated
        if written and t + FOLLOW_UP <= end:
            # the helpdesk reports our own write back (update webhook): decide again
            heapq.heappush(events, (t + FOLLOW_UP, seq, "follow-up"))
            seq += 1
        for timer in d.timers:
            if t < timer.at <= end:
                heapq.heappush(events, (timer.at, seq, f"timer:{timer.kind}:{timer.name}"))
                seq += 1
    report.final_group_id = live.group_id
    report.final_priority = live.priority
    report.final_tags = sorted(live.tags)
    return report


def _sla_events(d, t: datetime, report: TicketReport, seen: set) -> None:
    for c in d.clocks:
        st = stage(c)
        if st == "ok":
            continue
        key = (c.metric, c.policy, st)
        if key in seen:
            continue
        seen.add(key)
        instant = c.due_at if st == "breach" else None
        if st.startswith("warn:"):
            pct = int(st.split(":")[1])
            instant = next((x for p, x in c.warn_at if p == pct), None)
        report.sla.append({"at": instant if isinstance(instant, str) else format_time(instant)
                           or format_time(t), "seen_at": format_time(t), "metric": c.metric,
                           "policy": c.policy, "stage": st})


@dataclass
class Run:
    manifest_version: str
    tickets: list[TicketReport]

    @property
    def escalation_rate(self) -> float:
        return sum(r.escalated for r in self.tickets) / len(self.tickets) if self.tickets else 0.0

    def trigger_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.tickets:
            for f in r.fired:
                out[f["trigger"]] = out.get(f["trigger"], 0) + 1
        return dict(sorted(out.items()))

    def summary(self) -> dict[str, Any]:
        return {"manifest_version": self.manifest_version, "tickets": len(self.tickets),
                "escalated": sum(r.escalated for r in self.tickets),
                "escalation_rate": round(self.escalation_rate, 4),
                "trigger_counts": self.trigger_counts(),
                "sla_warnings": sum(1 for r in self.tickets for e in r.sla
                                    if e["stage"].startswith("warn")),
                "sla_breaches": sum(1 for r in self.tickets for e in r.sla
                                    if e["stage"] == "breach")}

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "results": [r.to_dict() for r in self.tickets]}


def simulate_rows(rows: Sequence[dict[str, Any]], manifest: Manifest, now: datetime,
                  enrich: Callable[[Ticket, datetime], Enrichment] | None = None,
                  horizon_minutes: float = 0.0, *, from_creation: bool = True) -> Run:
    enrich = enrich or make_enricher(manifest)
    rt = offline_runtime()
    return Run(manifest.version, [replay(row, manifest, now, i + 1, enrich, horizon_minutes,
                                         from_creation=from_creation, runtime=rt)
                                  for i, row in enumerate(rows)])


def _outcome(r: TicketReport) -> dict[str, Any]:
    """What the rules decided for one ticket, in a form two runs can be compared on."""
    return {"escalations": [(e["to_tier"], e["trigger"]) for e in r.escalations],
            "fired": sorted({f["trigger"] for f in r.fired}),
            "group_id": r.final_group_id, "priority": r.final_priority,
            "tags": sorted(r.final_tags),
            "sla": sorted({(s["metric"], s["stage"]) for s in r.sla})}


def diff(a: Run, b: Run) -> dict[str, Any]:
    """What changes going from manifest A to manifest B: per ticket, every part of the outcome
    that differs (escalations, fired triggers, final group, priority, tags, SLA events)."""
    changed = []
    for ra, rb in zip(a.tickets, b.tickets):
        oa, ob = _outcome(ra), _outcome(rb)
        differs = [k for k in oa if oa[k] != ob[k]]
        if differs:
            changed.append({"external_id": ra.external_id, "differs": differs,
                            "a_escalations": oa["escalations"], "b_escalations": ob["escalations"],
                            "a_fired": oa["fired"], "b_fired": ob["fired"],
                            **{f"{side}_{k}": o[k] for k in differs
                               if k not in ("escalations", "fired")
                               for side, o in (("a", oa), ("b", ob))}})
    ca, cb = a.trigger_counts(), b.trigger_counts()
    return {"a": a.manifest_version, "b": b.manifest_version,
            "escalation_rate": {"a": round(a.escalation_rate, 4), "b": round(b.escalation_rate, 4),
                                "delta": round(b.escalation_rate - a.escalation_rate, 4)},
            "trigger_counts": {k: {"a": ca.get(k, 0), "b": cb.get(k, 0)}
                               for k in sorted(set(ca) | set(cb)) if ca.get(k) != cb.get(k)},
            "tickets_changed": changed}


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _load(path: str) -> Manifest:
    try:
        return load_manifest(path)
    except ManifestError as exc:
        lines = "\n".join(f"{p or '(root)'}: {m}" for p, m in exc.errors)
        raise click.ClickException(f"manifest {path} is invalid:\n{lines}") from None


def _text(run: Run) -> str:
    out = []
    for r in run.tickets:
        if r.escalations:
            for e in r.escalations:
                why = "; ".join(x for x in e["reasons"] if x.startswith("fired "))[:300]
                out.append(f"{r.external_id}: ESCALATED {e['at']} {e['from_tier'] or '-'} -> "
                           f"{e['to_tier']} ({e['kind']}{', after hours' if e['after_hours'] else ''})"
                           f" by {e['trigger']}: {why}")
        elif r.fired:
            out.append(f"{r.external_id}: fired {', '.join(sorted({f['trigger'] for f in r.fired}))}"
                       " (no escalation)")
        else:
            out.append(f"{r.external_id}: untouched")
        for s in r.sla:
            out.append(f"    sla {s['stage']} {s['metric']} at {s['at']}")
    s = run.summary()
    out.append("")
    out.append(f"manifest {s['manifest_version']}: {s['escalated']}/{s['tickets']} escalated "
               f"({s['escalation_rate']:.1%}); SLA warnings {s['sla_warnings']}, breaches "
               f"{s['sla_breaches']}")
    for name, n in s["trigger_counts"].items():
        out.append(f"  {name:32} {n:5}")
    return "\n".join(out)


@click.command("simulate")
@click.option("--tickets", "tickets_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="JSON lines of example tickets (examples/tickets.jsonl format).")
@click.option("--manifest", "manifest_path", default=None, type=click.Path(dir_okay=False),
              help="Manifest to simulate (default: $TIERGATE_MANIFEST, else ./manifest.json, "
                   "else the shipped one).")
@click.option("--against", "against_path", default=None, type=click.Path(dir_okay=False),
              help="A second manifest: report the difference A -> B.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--now", "now_text", default=None,
              help="The examples' 'now' (ISO-8601; default: the current time).")
@click.option("--horizon", default=0.0, type=float, show_default=True,
              help="Keep the clock running this many minutes past 'now' (timers fire).")
@click.option("--no-nlp", is_flag=True, help="Skip the NLP enricher (neutral enrichment).")
@click.option("--replay", "from_creation", is_flag=True,
              help="Replay each ticket from its creation (default: it reaches tiergate whole at "
                   "'now', as in tiergate demo).")
def simulate(tickets_path, manifest_path, against_path, as_json, now_text, horizon, no_nlp,
             from_creation):
    """Replay ticket histories through the rules with a simulated clock and report."""
    now = parse_time(now_text) if now_text else datetime.now(timezone.utc)
    rows = read_examples(Path(tickets_path))
    a = _load(chosen_manifest(manifest_path, err=as_json))
    run_a = simulate_rows(rows, a, now, neutral_enrichment if no_nlp else None, horizon,
                          from_creation=from_creation)
    if against_path:
        b = _load(against_path)
        run_b = simulate_rows(rows, b, now, neutral_enrichment if no_nlp else None, horizon,
                              from_creation=from_creation)
        d = diff(run_a, run_b)
        if as_json:
            click.echo(json.dumps({"a": run_a.to_dict(), "b": run_b.to_dict(), "diff": d},
                                  indent=2, default=str))
            return
        click.echo(_text(run_a))
        click.echo("")
        click.echo(f"against {d['b']}: escalation rate {d['escalation_rate']['a']:.1%} -> "
                   f"{d['escalation_rate']['b']:.1%}")
        for name, c in d["trigger_counts"].items():
            click.echo(f"  {name:32} {c['a']:5} -> {c['b']}")
        click.echo(f"tickets decided differently: {len(d['tickets_changed'])}")
        for t in d["tickets_changed"]:
            parts = [f"{k} {t[f'a_{k}'] or '-'} -> {t[f'b_{k}'] or '-'}" for k in t["differs"]]
            click.echo(f"  {t['external_id']}: " + "; ".join(parts))
        return
    if as_json:
        click.echo(json.dumps(run_a.to_dict(), indent=2, default=str))
    else:
        click.echo(_text(run_a))


__all__ = ["simulate", "simulate_rows", "replay", "ticket_from_example", "apply_update", "diff",
           "Run", "TicketReport", "neutral_enrichment"]
