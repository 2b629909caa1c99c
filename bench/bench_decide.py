"""Condition evaluation speed: 100 triggers x 10,000 tickets on one core.

Figures (baseline measured in the same process):
* ``decide.ticket_evaluations`` - tickets per second, each evaluated against all 100 triggers
  through the compiled closures (``Facts`` built per ticket); baseline: the same loop doing only
  a dictionary look-up per condition (the floor any interpreter-level evaluator pays).
* ``decide.trigger_evaluations`` - the same run counted per (ticket, trigger) pair.
* ``decide.per_trigger_functions`` - the same with one generated function call per trigger.
* ``decide.full_decisions`` - complete ``decide()`` calls per second (SLA clocks, merge, timers,
  explanations) vs the evaluation-only loop: ``first`` = a fresh ticket where every matching
  random trigger fires (~20 per ticket, worst case); ``steady`` = the re-decision of the same
  ticket with its episode open (what most webhook / timer wake-ups are).
"""
from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tiergate.plugin.core.condition_facts import Facts
from tiergate.plugin.core.decide import decide, evaluate
from tiergate.plugin.core.manifest import load_manifest, read_document
from tiergate.plugin.core.model import Comment, Enrichment, Organization, RiskTag, Ticket

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=timezone.utc)
PRIORITIES = ["low", "normal", "high", "urgent"]
STATUSES = ["new", "open", "pending", "hold"]
RISKS = ["legal", "churn", "outage", "security", "billing", "complaint"]
SEGMENTS = ["smb", "enterprise", "vip"]


def _condition(rng: random.Random) -> dict:
    kind = rng.randrange(12)
    if kind == 0:
        return {"field": "priority", "operator": "is", "value": rng.choice(PRIORITIES)}
    if kind == 1:
        return {"field": "priority", "operator": "greater_than_or_equal",
                "value": rng.choice(PRIORITIES[1:])}
    if kind == 2:
        return {"field": "status", "operator": "in", "value": rng.sample(STATUSES, 2)}
    if kind == 3:
        return {"field": "risk_tags", "operator": "includes", "value": rng.sample(RISKS, 2)}
    if kind == 4:
        return {"field": "attention_score", "operator": "greater_than",
                "value": rng.randrange(20, 90)}
    if kind == 5:
        return {"field": "sentiment", "operator": "less_than", "value": -rng.random() / 2}
    if kind == 6:
        return {"field": "age", "operator": "greater_than", "value": rng.randrange(1, 48)}
    if kind == 7:
        return {"field": "since_customer_update", "operator": "greater_than",
                "value": rng.randrange(1, 24)}
    if kind == 8:
        return {"field": "organization.segment", "operator": "is", "value": rng.choice(SEGMENTS)}
    if kind == 9:
        return {"field": "tags", "operator": "not_includes", "value": [f"t{rng.randrange(20)}"]}
    if kind == 10:
        return {"field": "customer_contacts", "operator": "greater_than_or_equal",
                "value": rng.randrange(2, 4), "window_hours": 24}
    return {"field": "tier", "operator": "is", "value": rng.choice(["tier_1", "tier_2"])}


def build_manifest(n_triggers: int, seed: int = 1):
    doc = read_document(Path(__file__).resolve().parent.parent / "manifest.json")
    rng = random.Random(seed)
    triggers = []
    while len(triggers) < n_triggers:
        alls = []
        fields_used = set()
        for _ in range(rng.randrange(1, 4)):
            c = _condition(rng)
            if c["field"] in fields_used:
                continue
            fields_used.add(c["field"])
            alls.append(c)
        # alternatives on fields the `all` list leaves free: `tiergate check` rejects an `any`
        # that contradicts its `all` list (it could never hold)
        anys = [c for c in (_condition(rng) for _ in range(rng.randrange(0, 3)))
                if c["field"] not in fields_used]
        triggers.append({"name": f"bench_{len(triggers)}",
                         "conditions": {"all": alls, "any": anys},
                         "actions": [{"action": "add_tags", "tags": [f"bench_{len(triggers)}"]}]})
    doc["triggers"] = triggers
    return load_manifest(doc)


def build_tickets(n: int, seed: int = 2):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        created = NOW - timedelta(minutes=rng.randrange(5, 4000))
        comments = []
        for j in range(rng.randrange(1, 6)):
            at = created + timedelta(minutes=j * rng.randrange(1, 120))
            if at > NOW:
                break
            comments.append(Comment(i * 10 + j, 500 + i, rng.choice(["end-user", "agent"]),
                                    "text", True, at))
        org = Organization(i, f"org{i}", segment=rng.choice(SEGMENTS),
                           account_value=float(rng.randrange(1000, 200000)),
                           renewal_at=NOW + timedelta(days=rng.randrange(1, 365)))
        t = Ticket(id=i, subject="s", description="d", status=rng.choice(STATUSES),
                   priority=rng.choice(PRIORITIES), type="problem",
                   group_id=rng.choice([101, 102, 103]), assignee_id=201, requester_id=500 + i,
                   organization_id=i, tags=tuple(f"t{rng.randrange(20)}" for _ in range(2)),
                   channel="web", created_at=created, updated_at=created,
                   comments=tuple(comments), organization=org)
        e = Enrichment(attention_score=rng.randrange(100), sentiment=rng.uniform(-1, 1),
                       sentiment_label="neutral", complaint=False,
                       risk_tags=tuple(RiskTag(r, r) for r in rng.sample(RISKS, rng.randrange(3))))
        out.append((t, e))
    return out


def _flat(t: Ticket, e: Enrichment) -> dict:
    return {"priority": t.priority, "status": t.status, "risk_tags": e.tags, "tags": t.tags,
            "attention_score": e.attention_score, "sentiment": e.sentiment,
            "age": 1.0, "since_customer_update": 1.0, "customer_contacts": 1,
            "organization.segment": t.organization.segment, "tier": "tier_1"}


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(quick: bool = False) -> list[dict]:
    n_tickets = 2_000 if quick else 10_000
    m = build_manifest(100)
    program = m.program
    tickets = build_tickets(n_tickets)

    # baseline: one dict look-up per condition, same loop shape
    flats = [_flat(t, e) for t, e in tickets]
    keys = [tuple(c.field for c in ct.trigger.conditions.all + ct.trigger.conditions.any)
            for ct in program]

    def baseline():
        hits = 0
        for d in flats:
            for ks in keys:
                for k in ks:
                    if d.get(k) is None:
                        hits += 1
        return hits

    def ours_all():
        return sum(sum(evaluate(Facts(t, e, m, NOW, ()), m)) for t, e in tickets)

    def ours_each():
        for t, e in tickets:
            f = Facts(t, e, m, NOW, ())
            for ct in program:
                ct.group.test(f)

    # best of several interleaved rounds: the machine is shared, the minimum is the signal
    base_s = eval_s = per_trigger_s = float("inf")
    for _ in range(2 if quick else 3):
        base_s = min(base_s, _timed(baseline))
        eval_s = min(eval_s, _timed(ours_all))
        per_trigger_s = min(per_trigger_s, _timed(ours_each))

    sample = tickets[: max(200, n_tickets // 10)]
    t0 = time.perf_counter()
    states = [frozenset(decide(t, e, m, NOW, frozenset()).fired_state) for t, e in sample]
    full_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for (t, e), st in zip(sample, states):
        decide(t, e, m, NOW, st)
    steady_s = time.perf_counter() - t0

    pairs = n_tickets * len(program)
    ours = n_tickets / eval_s
    base = n_tickets / base_s
    full = len(sample) / full_s
    return [
        {"name": "decide.ticket_evaluations (100 triggers, per ticket)", "value": ours,
         "unit": "tickets/s", "baseline": base, "ratio": ours / base},
        {"name": "decide.trigger_evaluations (ticket x trigger)", "value": pairs / eval_s,
         "unit": "evals/s", "baseline": pairs / base_s, "ratio": base_s / eval_s},
        {"name": "decide.per_trigger_functions (one call per trigger)",
         "value": n_tickets / per_trigger_s, "unit": "tickets/s", "baseline": base,
         "ratio": (n_tickets / per_trigger_s) / base},
        {"name": "decide.full_decisions first (all fire + explain)", "value": full,
         "unit": "decisions/s", "baseline": ours, "ratio": full / ours},
        {"name": "decide.full_decisions steady (episode open)", "value": len(sample) / steady_s,
         "unit": "decisions/s", "baseline": ours, "ratio": (len(sample) / steady_s) / ours},
    ]


if __name__ == "__main__":
    for row in run(quick=False):
        print(f"{row['name']:55} {row['value']:>12,.0f} {row['unit']:12} baseline "
              f"{row['baseline']:>12,.0f} ratio {row['ratio']:.2f}")
