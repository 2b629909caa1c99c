"""The decision log's rows as read back (decisions, tickets with their facts, reviews) and the group -> tier map."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from tiergate.plugin.analytics.log_schema import from_db
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest


def tier_map(source: Any) -> dict[int, str]:
    """``{group_id: tier or team name}`` from a mapping, or (duck-typed) from a manifest's
    ``tiers`` (and functional ``teams`` if it has them): a mapping name -> tier or a sequence of
    tiers, each with ``group_id`` / ``group_ids`` / ``groups``."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return {int(k): str(v) for k, v in source.items()}
    out: dict[int, str] = {}
    for attr in ("tiers", "teams", "functional"):
        tiers = getattr(source, attr, None)
        if not tiers:
            continue
        items = tiers.items() if isinstance(tiers, Mapping) else (
            (getattr(t, "name", None) or (t.get("name") if isinstance(t, Mapping) else None), t)
            for t in tiers)
        for name, tier in items:
            for gid in _group_ids(tier):
                out.setdefault(gid, str(name))
    return out


def manifest_tiers(settings: Any = None) -> dict[int, str]:
    """The group -> tier map of the configured (else embedded) manifest; {} if it cannot load."""
    try:
        path = getattr(settings, "manifest_path", None) or default_manifest_path()
        return tier_map(load_manifest(path))
    except Exception:
        return {}


def _group_ids(tier: Any) -> list[int]:
    def get(key):
        return tier.get(key) if isinstance(tier, Mapping) else getattr(tier, key, None)

    found: list[int] = []
    for key in ("group_id", "group_ids", "groups"):
        value = get(key)
        if value is None:
            continue
        for v in (value if isinstance(value, (list, tuple, set, frozenset)) else [value]):
            v = v.get("id") if isinstance(v, Mapping) else getattr(v, "id", v)
            try:
                found.append(int(v))
            except (TypeError, ValueError):
                continue
    return found


@dataclass(frozen=True)
class DecisionRow:
    """One stored decision (what ``metrics`` and ``review`` read)."""

    id: int
    helpdesk: str
    ticket_id: int
    delivery_id: str
    at: datetime
    manifest_version: str | None
    triggers: tuple[str, ...]
    trigger: str | None
    escalated: bool
    from_tier: str | None
    to_tier: str | None
    kind: str | None
    to_group_id: int | None
    attention_score: int | None
    sla_breached: bool
    sla_max_pct: float | None
    priority: str | None
    group_id: int | None
    assignee_id: int | None
    risk_tags: tuple[str, ...]
    channel: str | None
    reasons: tuple[str, ...] = ()
    signals: tuple[dict, ...] = ()
    sla: tuple[dict, ...] = ()


@dataclass(frozen=True)
class TicketFacts:
    """One ticket as the metrics see it: its facts, outcomes and decisions (oldest first)."""

    helpdesk: str
    ticket_id: int
    subject: str | None
    created_at: datetime | None
    status: str | None
    priority: str | None
    type: str | None
    channel: str | None
    group_id: int | None
    assignee_id: int | None
    organization: str | None
    segment: str | None
    risk_tags: tuple[str, ...]
    first_solved_at: datetime | None
    solved_at: datetime | None
    resolved_tier: str | None
    reopens: int
    handoffs: int
    agent_replies: int
    satisfaction: str | None
    last_agent_comment_at: datetime | None
    changes: tuple[dict, ...] = ()
    decisions: tuple[DecisionRow, ...] = ()
    first_seen_at: datetime | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.helpdesk, self.ticket_id)

    @property
    def escalations(self) -> tuple[DecisionRow, ...]:
        return tuple(d for d in self.decisions if d.escalated)

    @property
    def first_escalation(self) -> DecisionRow | None:
        esc = self.escalations
        return esc[0] if esc else None

    @property
    def opened_at(self) -> datetime | None:
        return self.created_at or self.first_seen_at


@dataclass(frozen=True)
class ReviewRow:
    id: int
    helpdesk: str
    ticket_id: int
    month: str
    decision_id: int | None
    sample: str
    seed: str | None
    status: str
    necessary: bool | None
    lower_tier_could_resolve: bool | None
    root_cause: str | None
    follow_up: str | None
    follow_up_status: str | None
    customer_impact: str | None
    preventive_steps: str | None
    notes: str | None
    reviewer: str | None
    created_at: datetime | None
    updated_at: datetime | None
    level: int | None = None          # how far it should have been escalated (0: not at all)


def decision_row(m: Mapping[str, Any]) -> DecisionRow:
    return DecisionRow(
        id=int(m["id"]), helpdesk=m["helpdesk"], ticket_id=int(m["ticket_id"]),
        delivery_id=m["delivery_id"], at=from_db(m["at"]), manifest_version=m["manifest_version"],
        triggers=tuple(m["triggers"] or ()), trigger=m["trigger"], escalated=bool(m["escalated"]),
        from_tier=m["from_tier"], to_tier=m["to_tier"], kind=m["kind"],
        to_group_id=_int(m["to_group_id"]), attention_score=m["attention_score"],
        sla_breached=bool(m["sla_breached"]), sla_max_pct=m["sla_max_pct"], priority=m["priority"],
        group_id=_int(m["group_id"]), assignee_id=_int(m["assignee_id"]),
        risk_tags=tuple(m["risk_tags"] or ()), channel=m["channel"],
        reasons=tuple(m["reasons"] or ()), signals=tuple(m["signals"] or ()), sla=tuple(m["sla"] or ()))


def facts_row(m: Mapping[str, Any], decisions: list[DecisionRow]) -> TicketFacts:
    return TicketFacts(
        helpdesk=m["helpdesk"], ticket_id=int(m["ticket_id"]), subject=m["subject"],
        created_at=from_db(m["created_at"]), status=m["status"], priority=m["priority"], type=m["type"],
        channel=m["channel"], group_id=_int(m["group_id"]), assignee_id=_int(m["assignee_id"]),
        organization=m["organization"], segment=m["segment"], risk_tags=tuple(m["risk_tags"] or ()),
        first_solved_at=from_db(m["first_solved_at"]), solved_at=from_db(m["solved_at"]),
        resolved_tier=m["resolved_tier"], reopens=int(m["reopens"] or 0),
        handoffs=int(m["handoffs"] or 0), agent_replies=int(m["agent_replies"] or 0),
        satisfaction=m["satisfaction"], last_agent_comment_at=from_db(m["last_agent_comment_at"]),
        changes=tuple(m["changes"] or ()), decisions=tuple(decisions),
        first_seen_at=from_db(m["first_seen_at"]))


def review_row(m: Mapping[str, Any]) -> ReviewRow:
    return ReviewRow(**{k: (from_db(v) if k in ("created_at", "updated_at") else v)
                        for k, v in dict(m).items()})


def _int(v: Any) -> int | None:
    return None if v is None else int(v)
