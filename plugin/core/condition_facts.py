"""What one decision knows about one ticket: ``Facts`` and the values derived from it.

``Facts`` bundles (ticket, enrichment, manifest, now, SLA clocks) and memoises derived values
(current tier / team, when the ticket entered its group, last customer / agent / public comment,
reopens, hand-offs, recent customer contacts) so every condition that reads one computes it once.
``calendar_for`` picks the business-hours calendar a condition counts in.

Pure: no I/O, no clock reads; ``now`` comes with the facts.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from tiergate.plugin.core.calendar import ALWAYS_OPEN
from tiergate.plugin.core.model import Enrichment, Ticket

_MISSING = object()


class Facts:
    """Per-decision view of (ticket, enrichment, manifest, now); derived values are memoised."""

    __slots__ = ("ticket", "enrichment", "manifest", "now", "clocks", "_c")

    def __init__(self, ticket: Ticket, enrichment: Enrichment, manifest: Any, now: datetime,
                 clocks: Sequence[Any] | None = None):
        self.ticket = ticket
        self.enrichment = enrichment
        self.manifest = manifest
        self.now = now
        self.clocks = clocks           # tuple[ClockState] or a zero-argument callable
        self._c: dict[str, Any] = {}

    def memo(self, key: str, fn: Callable[["Facts"], Any]) -> Any:
        c = self._c
        v = c.get(key, _MISSING)
        if v is _MISSING:
            v = c[key] = fn(self)
        return v

    # -- derived ticket facts ---------------------------------------------------------------
    def sla_clocks(self) -> tuple:
        c = self.clocks
        if callable(c):
            c = self.clocks = tuple(c())
        return c or ()

    def position(self) -> tuple[str | None, str | None]:
        """(tier name, team name) owning the ticket's current group."""
        v = self._c.get("position")
        if v is None:
            v = self._c["position"] = _position(self.manifest, self.ticket.group_id)
        return v

    def risk_tags(self) -> tuple[str, ...]:
        v = self._c.get("risk_tags")
        if v is None:
            v = self._c["risk_tags"] = self.enrichment.tags
        return v

    def tier_start(self) -> datetime | None:
        return self.memo("tier_start", _tier_start)


def _tier_start(facts: "Facts") -> datetime | None:
    t = facts.ticket
    for ch in reversed(t.changes):
        if ch.field == "group_id" and ch.at is not None:
            return ch.at
    return t.created_at


def _position(manifest: Any, group_id: int | None) -> tuple[str | None, str | None]:
    index = getattr(manifest, "group_index", None) or {}
    hit = index.get(group_id)
    if hit is None:
        default = getattr(getattr(manifest, "helpdesk", None), "default_tier", None)
        return (default, None)
    kind, name = hit
    return (name, None) if kind == "tier" else (None, name)


def _last(t: Ticket, pred: Callable[[Any], bool]) -> datetime | None:
    for c in reversed(t.comments):
        if c.created_at is not None and pred(c):
            return c.created_at
    return None


def _is_customer(c) -> bool:
    return c.author_role == "end-user"


def _is_agent(c) -> bool:
    return c.author_role == "agent"


def _is_public(c) -> bool:
    return c.public


def anchor_customer(f: Facts):
    return f.memo("last_customer", lambda x: _last(x.ticket, _is_customer) or x.ticket.created_at)


def anchor_agent(f: Facts):
    return f.memo("last_agent", lambda x: _last(x.ticket, _is_agent) or x.ticket.created_at)


def anchor_public(f: Facts):
    return f.memo("last_public", lambda x: _last(x.ticket, _is_public) or x.ticket.created_at)


def anchor_status(f: Facts):
    def g(x: Facts):
        for ch in reversed(x.ticket.changes):
            if ch.field == "status" and ch.at is not None:
                return ch.at
        return x.ticket.created_at
    return f.memo("status_start", g)


def reopen_count(f: Facts) -> int:
    def g(x: Facts):
        return sum(1 for ch in x.ticket.changes if ch.field == "status"
                   and ch.old in ("solved", "closed") and ch.new not in ("solved", "closed"))
    return f.memo("reopens", g)


def handoff_count(f: Facts) -> int:
    def g(x: Facts):
        return sum(1 for ch in x.ticket.changes if ch.field == "group_id" and ch.old is not None
                   and ch.old != ch.new)
    return f.memo("handoffs", g)


def customer_contacts(window_minutes: float) -> Callable[[Facts], int]:
    key = f"contacts:{window_minutes}"

    def g(x: Facts) -> int:
        since = x.now - timedelta(minutes=window_minutes)
        t = x.ticket
        auto = set(x.enrichment.auto_replies)
        settled = x.enrichment.settled_at
        n = sum(1 for i, c in enumerate(t.comments) if c.author_role == "end-user"
                and c.created_at is not None and c.created_at >= since and i not in auto
                and (settled is None or i > settled))
        if not t.comments and t.created_at is not None and t.created_at >= since:
            n = 1                                   # the description is the first contact
        return n

    return lambda f: f.memo(key, g)


def changed_within(field: str, minutes: float | None) -> Callable[[Facts], bool]:
    audited = "group_id" if field in ("tier", "team") else field

    def g(f: Facts) -> bool:
        since = None if minutes is None else f.now - timedelta(minutes=minutes)
        for ch in reversed(f.ticket.changes):
            if ch.field == audited and ch.old != ch.new:
                return since is None or (ch.at is not None and ch.at >= since)
        return False
    return g


def renewal_days(f: Facts) -> float | None:
    o = f.ticket.organization
    if o is None or o.renewal_at is None:
        return None
    return (o.renewal_at - f.now).total_seconds() / 86400.0


def sla_clock(f: Facts, metric: str):
    for c in f.sla_clocks():
        if c.metric == metric:
            return c
    return None


def custom_value(name: str) -> Callable[[Facts], Any]:
    def g(f: Facts):
        cf = f.ticket.custom_fields
        v = cf.get(name)
        if v is None and f.ticket.organization is not None:
            v = f.ticket.organization.fields.get(name)
        return v
    return g


def users_affected(f: Facts):
    name = getattr(getattr(f.manifest, "helpdesk", None), "users_affected_field", "users_affected")
    v = custom_value(name)(f)
    try:
        return None if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return None


def authority_limit(manifest: Any, tier: str | None, kind: str) -> float | None:
    """The most the given tier may approve for ``kind`` (None: no authority at all)."""
    auth = getattr(manifest, "authority", None)
    if auth is None or tier is None:
        return None
    limits = auth.limits.get(tier)
    return None if limits is None else limits.get(kind)


def calendar_for(manifest: Any, name: str | None, facts: Facts | None = None):
    """Calendar object named ``name``; else the current owner's; else the manifest default."""
    cals = getattr(manifest, "calendars", None) or {}
    if name is None and facts is not None:
        tier, team = facts.position()
        owner = (manifest.tiers.get(tier) if tier else None) or \
                (manifest.teams.get(team) if team else None)
        name = getattr(owner, "calendar", None)
    if name is None:
        name = getattr(getattr(manifest, "helpdesk", None), "default_calendar", None)
    cal = cals.get(name) if name else None
    if cal is None:
        return ALWAYS_OPEN
    return cal
