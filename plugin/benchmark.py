"""``tiergate eval --tickets FILE``: decision quality on labelled tickets.

Each line is an example ticket (the ``demo --tickets`` format) with a ``label``:
``{"escalate": bool, "team": "security" | "tier_3" | ... | null, "tags": [...],
"category": "...", "language": "de"}``. Every ticket is decided once at ``now`` on the same
path the worker takes (enrich, then ``decide`` with the manifest), and compared with its label:

- escalation precision and recall (an escalation = the decision moves the ticket to a tier,
  a team or the review queue);
- team / tier accuracy among the rightly escalated;
- recall on the non-English rows; per-category counts; expected-tag recall;
- the worst misses (missed escalations first, then wrong escalations) with their reasons.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from tiergate.plugin.core.decide import decide
from tiergate.plugin.core.model import Decision, Enrichment
from tiergate.plugin.examples import read_examples
from tiergate.plugin.simulate import ticket_from_example

# names a label may use for the same owner
ALIASES = {"finance": "billing", "engineering": "tier_3", "tier3": "tier_3",
           "incident": "tier_3", "lead": "team_lead", "team lead": "team_lead",
           "review_queue": "review", "csm": "customer_success", "retention": "customer_success",
           "data_protection": "privacy", "dpo": "privacy"}


def owner_name(name: str | None) -> str | None:
    if not name:
        return None
    key = str(name).strip().lower()
    return ALIASES.get(key, key)


@dataclass
class Outcome:
    row: dict[str, Any]
    decision: Decision
    enrichment: Enrichment

    @property
    def label(self) -> dict[str, Any]:
        return self.row.get("label") or {}

    @property
    def expected(self) -> bool:
        return bool(self.label.get("escalate"))

    @property
    def got(self) -> str | None:
        esc = self.decision.escalation
        return esc.to_tier if esc is not None else None

    @property
    def escalated(self) -> bool:
        return self.got is not None

    @property
    def right_owner(self) -> bool:
        return owner_name(self.got) == owner_name(self.label.get("team"))

    def brief(self) -> dict[str, Any]:
        return {"id": self.row.get("external_id"), "subject": self.row.get("subject"),
                "category": self.label.get("category"), "language": self.label.get("language"),
                "expected": owner_name(self.label.get("team")) if self.expected else None,
                "got": self.got, "risk_tags": sorted(set(self.enrichment.tags)),
                "attention_score": self.enrichment.attention_score,
                "reasons": (list(self.decision.reasons)[:6] + [
                    f"{r.signal}: {r.points:+g} ({r.detail})" for r in self.enrichment.reasons]
                )[:12] or [f"no trigger held and no signal found (attention score "
                           f"{self.enrichment.attention_score}, language "
                           f"{self.enrichment.language})"]}


def decide_rows(rows: Sequence[dict[str, Any]], manifest: Any, now: datetime,
                enrich: Callable) -> list[Outcome]:
    out = []
    for i, row in enumerate(rows, 1):
        ticket = ticket_from_example(row, now, i)
        enrichment = enrich(ticket, now)
        out.append(Outcome(row, decide(ticket, enrichment, manifest, now), enrichment))
    return out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def score(outcomes: Sequence[Outcome], worst: int = 10) -> dict[str, Any]:
    tp = sum(o.expected and o.escalated for o in outcomes)
    fp = sum(o.escalated and not o.expected for o in outcomes)
    fn = sum(o.expected and not o.escalated for o in outcomes)
    tn = len(outcomes) - tp - fp - fn
    right = sum(o.expected and o.escalated and o.right_owner for o in outcomes)
    correct = sum((o.expected and o.escalated and o.right_owner) or
                  (not o.expected and not o.escalated) for o in outcomes)
    intl = [o for o in outcomes if (o.label.get("language") or "en") != "en"]
    intl_pos = [o for o in intl if o.expected]
    by_cat: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        c = by_cat[o.label.get("category") or "?"]
        c["n"] += 1
        if o.expected:
            c["escalated_right" if o.escalated and o.right_owner else
              "escalated_wrong_owner" if o.escalated else "missed"] += 1
        else:
            c["wrongly_escalated" if o.escalated else "left_alone"] += 1
    tags_expected = tags_found = 0
    for o in outcomes:
        want = set(o.label.get("tags") or ())
        tags_expected += len(want)
        tags_found += len(want & set(o.enrichment.tags))
    confusion: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        confusion[owner_name(o.label.get("team")) or "none"][owner_name(o.got) or "none"] += 1
    misses = [o for o in outcomes if o.expected and not (o.escalated and o.right_owner)]
    wrong = [o for o in outcomes if o.escalated and not o.expected]
    misses.sort(key=lambda o: o.enrichment.attention_score)
    wrong.sort(key=lambda o: -o.enrichment.attention_score)
    return {
        "tickets": len(outcomes), "should_escalate": tp + fn,
        "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn),
        "owner_accuracy": _ratio(right, tp), "decided_right": _ratio(correct, len(outcomes)),
        "non_english": {"tickets": len(intl), "recall": _ratio(
            sum(o.escalated for o in intl_pos), len(intl_pos)), "decided_right": _ratio(
            sum((o.expected and o.escalated and o.right_owner) or
                (not o.expected and not o.escalated) for o in intl), len(intl))},
        "counts": {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "right_owner": right},
        "tag_recall": _ratio(tags_found, tags_expected),
        "categories": {k: dict(v) for k, v in sorted(by_cat.items())},
        "confusion": {k: dict(v) for k, v in sorted(confusion.items())},
        "worst": [o.brief() for o in (misses + wrong)[:worst]],
    }


def label_problem(row: dict[str, Any]) -> str | None:
    label = row.get("label")
    if not isinstance(label, dict) or not isinstance(label.get("escalate"), bool):
        return "label.escalate: required true or false"
    return None


def read_labelled(path: str | Path) -> list[dict[str, Any]]:
    """Labelled tickets; a bad line is a usage error naming its number and field."""
    return read_examples(Path(path), check=label_problem)


def text_report(result: dict[str, Any]) -> str:
    r = result
    lines = [f"{r['tickets']} tickets, {r['should_escalate']} should escalate",
             f"escalation precision {r['precision']}  recall {r['recall']}  "
             f"right owner {r['owner_accuracy']} of the rightly escalated  "
             f"decided right {r['decided_right']}",
             f"non-English ({r['non_english']['tickets']} tickets): recall "
             f"{r['non_english']['recall']}  decided right {r['non_english']['decided_right']}",
             f"expected tags found: {r['tag_recall']}", "", "per category:"]
    for cat, c in r["categories"].items():
        lines.append(f"  {cat:18} " + "  ".join(f"{k} {v}" for k, v in sorted(c.items())))
    lines += ["", "label -> decision:"]
    for want, got in r["confusion"].items():
        lines.append(f"  {want:18} " + "  ".join(f"{k} {v}" for k, v in sorted(got.items())))
    lines += ["", "worst misses:"]
    for w in r["worst"]:
        lines.append(f"  {w['id']} [{w['category']}, {w['language']}] expected {w['expected']}, "
                     f"got {w['got']}: {w['subject']}")
        lines.append(f"    tags {', '.join(w['risk_tags']) or '-'}; score {w['attention_score']}")
        for reason in w["reasons"][:4]:
            lines.append(f"    - {reason}")
    return "\n".join(lines)
