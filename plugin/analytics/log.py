"""The durable decision log: every decision tiergate takes and every outcome it can observe later.

SQLAlchemy 2 Core over SQLite (embedded default, ``sqlite:///tiergate.sqlite``) or PostgreSQL
(production, ``postgresql+psycopg://...``). Tables are created on first use; the schema carries a
version in ``tg_meta`` so a later release can upgrade it in place. All instants are stored as naive
UTC and read back as aware UTC datetimes.

Three tables:
- ``tg_tickets``: one row per ticket seen (escalated or not): the denominators, and the outcomes
  (resolved at, reopens, CSAT, the tier it was resolved in, handoffs, agent replies).
- ``tg_decisions``: one row per decision, unique on (helpdesk, ticket, delivery id, at), so a
  retried job records nothing twice.
- ``tg_reviews``: post-escalation review records (see ``review.py``).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, Float, Index, Integer,
                        MetaData, String, Table, Text, UniqueConstraint, create_engine, event,
                        select)
from sqlalchemy.engine import Connection, Engine

from tiergate.plugin.core.model import Decision, Enrichment, Ticket

SCHEMA_VERSION = 1
DEFAULT_DB_URL = "sqlite:///tiergate.sqlite"
SOLVED = ("solved", "closed")
TIERGATE_MARK = "[tiergate:"

metadata = MetaData()

meta_table = Table(
    "tg_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

tickets_table = Table(
    "tg_tickets", metadata,
    Column("helpdesk", String(32), primary_key=True),
    Column("ticket_id", BigInteger, primary_key=True, autoincrement=False),
    Column("subject", String(300)),
    Column("created_at", DateTime),
    Column("updated_at", DateTime),
    Column("first_seen_at", DateTime),
    Column("last_seen_at", DateTime),
    Column("status", String(16)),
    Column("priority", String(16)),
    Column("type", String(16)),
    Column("channel", String(16)),
    Column("group_id", BigInteger),
    Column("assignee_id", BigInteger),
    Column("organization", String(200)),
    Column("segment", String(32)),
    Column("risk_tags", JSON, nullable=False, default=list),
    Column("first_solved_at", DateTime),
    Column("solved_at", DateTime),
    Column("resolved_group_id", BigInteger),
    Column("resolved_tier", String(64)),
    Column("reopens", Integer, nullable=False, default=0),
    Column("handoffs", Integer, nullable=False, default=0),
    Column("agent_replies", Integer, nullable=False, default=0),
    Column("satisfaction", String(8)),
    Column("last_agent_comment_at", DateTime),
    Column("changes", JSON, nullable=False, default=list),
)

decisions_table = Table(
    "tg_decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("helpdesk", String(32), nullable=False),
    Column("ticket_id", BigInteger, nullable=False),
    Column("delivery_id", String(200), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("manifest_version", String(80)),
    Column("triggers", JSON, nullable=False, default=list),
    Column("trigger", String(120)),
    Column("escalated", Boolean, nullable=False, default=False),
    Column("from_tier", String(64)),
    Column("to_tier", String(64)),
    Column("kind", String(16)),
    Column("to_group_id", BigInteger),
    Column("to_owner_id", BigInteger),
    Column("after_hours", Boolean, nullable=False, default=False),
    Column("reasons", JSON, nullable=False, default=list),
    Column("signals", JSON, nullable=False, default=list),
    Column("attention_score", Integer),     # whole points (a model's decimal rounded)
    Column("sentiment", Float),
    Column("sla", JSON, nullable=False, default=list),
    Column("sla_breached", Boolean, nullable=False, default=False),
    Column("sla_max_pct", Float),
    Column("status", String(16)),
    Column("priority", String(16)),
    Column("type", String(16)),
    Column("group_id", BigInteger),
    Column("assignee_id", BigInteger),
    Column("risk_tags", JSON, nullable=False, default=list),
    Column("channel", String(16)),
    UniqueConstraint("helpdesk", "ticket_id", "delivery_id", "at", name="uq_tg_decision"),
    Index("ix_tg_decisions_at", "at"),
    Index("ix_tg_decisions_ticket", "helpdesk", "ticket_id"),
)

reviews_table = Table(
    "tg_reviews", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("helpdesk", String(32), nullable=False),
    Column("ticket_id", BigInteger, nullable=False),
    Column("month", String(7), nullable=False),
    Column("decision_id", Integer),
    Column("sample", String(10), nullable=False),         # accepted | deferred | manual
    Column("seed", String(64)),
    Column("status", String(12), nullable=False),         # queued | reviewed
    Column("necessary", Boolean),
    Column("lower_tier_could_resolve", Boolean),
    Column("root_cause", String(64)),
    Column("follow_up", String(20)),                      # training | knowledge_base | product_bug | none
    Column("follow_up_status", String(12)),               # open | in_progress | done | wont_do
    Column("customer_impact", Text),
    Column("preventive_steps", Text),
    Column("notes", Text),
    Column("reviewer", String(120)),
    Column("created_at", DateTime),
    Column("updated_at", DateTime),
    UniqueConstraint("helpdesk", "ticket_id", "month", name="uq_tg_review"),
)


class SchemaError(RuntimeError):
    """The database holds a schema this release does not understand."""


def to_db(value: datetime | None) -> datetime | None:
    """Aware datetime -> naive UTC for storage."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def from_db(value: datetime | None) -> datetime | None:
    """Stored naive UTC -> aware UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


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
        from tiergate.plugin.core.manifest import default_manifest_path, load_manifest

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


def _engine(db_url: str) -> Engine:
    if db_url.startswith("sqlite"):
        engine = create_engine(db_url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            if ":memory:" not in db_url and db_url not in ("sqlite://", "sqlite:///"):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if db_url.startswith("postgresql://") or db_url.startswith("postgres://"):
        db_url = "postgresql+psycopg://" + db_url.split("://", 1)[1]
    return create_engine(db_url, pool_pre_ping=True)


def _upsert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL; True if a row was inserted."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - other databases: plain insert, duplicate -> IntegrityError ignored
        from sqlalchemy import insert
        from sqlalchemy.exc import IntegrityError

        try:
            with conn.begin_nested():
                conn.execute(insert(table).values(**values))
            return True
        except IntegrityError:
            return False
    pk = list(table.primary_key.columns)[0]
    result = conn.execute(insert(table).values(**values).on_conflict_do_nothing().returning(pk))
    return result.first() is not None


class DecisionLog:
    """``DecisionLog(db_url, tier_of_group=None)``; tables are created on first use.

    ``tier_of_group`` maps helpdesk group ids to tier / team names (a mapping or a manifest);
    groups it does not know are named from what escalation decisions recorded (the target group
    of an escalation belongs to its ``to_tier``).
    """

    def __init__(self, db_url: str | None = None, tier_of_group: Mapping[int, str] | Any = None,
                 *, helpdesk: str = "zendesk"):
        self.db_url = db_url or DEFAULT_DB_URL
        self.engine = _engine(self.db_url)
        self.tiers = tier_map(tier_of_group)
        self.helpdesk = helpdesk
        self._recent: dict[int, str] = {}     # ticket id -> helpdesk of its last record()
        self._ready = False
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> "DecisionLog":
        """``settings.db_url`` with the manifest's group -> tier map."""
        return cls(settings.db_url, tier_of_group=manifest_tiers(settings), helpdesk=settings.helpdesk)

    def __repr__(self) -> str:
        return f"DecisionLog({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    # -- schema -----------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            metadata.create_all(self.engine, checkfirst=True)
            with self.engine.begin() as conn:
                _upsert_ignore(conn, meta_table, {"key": "schema_version", "value": str(SCHEMA_VERSION)})
                found = int(conn.execute(select(meta_table.c.value).where(
                    meta_table.c.key == "schema_version")).scalar_one())
            if found > SCHEMA_VERSION:
                raise SchemaError(f"decision log schema version {found} is newer than this release "
                                  f"understands ({SCHEMA_VERSION}); upgrade tiergate")
            self._ready = True

    def schema_version(self) -> int:
        self.ensure_schema()
        with self.engine.connect() as conn:
            return int(conn.execute(select(meta_table.c.value).where(
                meta_table.c.key == "schema_version")).scalar_one())

    # -- writing ----------------------------------------------------------------------------
    def record(self, decision: Decision, ticket: Ticket, enrichment: Enrichment, *, helpdesk: str,
               delivery_id: str) -> bool:
        """Store one decision (idempotent on helpdesk, ticket, delivery id, ``decision.at``) and
        the ticket's facts. Returns True if the decision was new."""
        if decision.at is None:
            raise ValueError("decision.at: required to record a decision")
        self.ensure_schema()
        esc = decision.escalation
        triggers = [f.name for f in decision.fired]
        clocks = [{"metric": c.metric, "policy": c.policy, "pct_elapsed": round(c.pct_elapsed, 2),
                   "breached": c.breached, "paused": c.paused,
                   "due_at": c.to_dict()["due_at"]} for c in decision.clocks]
        risk = list(enrichment.tags)
        row = {
            "helpdesk": helpdesk, "ticket_id": int(ticket.id), "delivery_id": str(delivery_id)[:200],
            "at": to_db(decision.at), "manifest_version": decision.manifest_version,
            "triggers": triggers, "trigger": esc.trigger if esc else (triggers[0] if triggers else None),
            "escalated": esc is not None, "from_tier": esc.from_tier if esc else None,
            "to_tier": esc.to_tier if esc else None, "kind": esc.kind if esc else None,
            "to_group_id": esc.group_id if esc else None, "to_owner_id": esc.owner_id if esc else None,
            "after_hours": bool(esc.after_hours) if esc else False,
            "reasons": list(decision.reasons), "signals": [r.to_dict() for r in enrichment.reasons],
            "attention_score": round(enrichment.attention_score), "sentiment": float(enrichment.sentiment),
            "sla": clocks, "sla_breached": any(c.breached for c in decision.clocks),
            "sla_max_pct": max((c.pct_elapsed for c in decision.clocks), default=None),
            "status": ticket.status, "priority": ticket.priority, "type": ticket.type,
            "group_id": ticket.group_id, "assignee_id": ticket.assignee_id, "risk_tags": risk,
            "channel": ticket.channel,
        }
        if len(self._recent) > 10_000:
            self._recent.clear()
        self._recent[int(ticket.id)] = helpdesk
        with self.engine.begin() as conn:
            inserted = _upsert_ignore(conn, decisions_table, row)
            if esc is not None and esc.group_id is not None and esc.to_tier:
                self.tiers.setdefault(int(esc.group_id), esc.to_tier)
            self._observe(conn, helpdesk, ticket, decision.at, risk_tags=risk)
            moved_to = decision.update.group_id
            if inserted and moved_to is not None and moved_to != ticket.group_id:
                # the decision's own write moved the ticket: a handoff the snapshot cannot show yet
                t = tickets_table
                key = (t.c.helpdesk == helpdesk) & (t.c.ticket_id == int(ticket.id))
                conn.execute(t.update().where(key, t.c.group_id.is_not_distinct_from(ticket.group_id)).values(
                    group_id=moved_to, handoffs=t.c.handoffs + (1 if ticket.group_id is not None else 0),
                    assignee_id=decision.update.assignee_id if decision.update.assignee_id is not None
                    else t.c.assignee_id))
        return inserted

    def observe(self, ticket: Ticket, at: datetime | None = None, *, helpdesk: str | None = None) -> None:
        """Record what a ticket snapshot shows (seen, status, resolution, reopens, CSAT, tier).
        Called for every ticket tiergate sees, escalated or not, and by ``backfill``. Without
        ``helpdesk``: the one this ticket was last ``record``-ed for, else the log's default."""
        helpdesk = helpdesk or self._recent.get(int(ticket.id)) or self.helpdesk
        self.ensure_schema()
        with self.engine.begin() as conn:
            self._observe(conn, helpdesk, ticket, at or ticket.updated_at or datetime.now(timezone.utc))

    def tier_of(self, group_id: int | None) -> str | None:
        """The tier / team name of a helpdesk group (the map given, else learned), or None."""
        if group_id is None:
            return None
        if int(group_id) in self.tiers:
            return self.tiers[int(group_id)]
        self.ensure_schema()
        with self.engine.connect() as conn:
            return self._tier_of(conn, group_id)

    def _tier_of(self, conn: Connection, group_id: int | None) -> str | None:
        if group_id is None:
            return None
        found = self.tiers.get(int(group_id))
        if found is None:
            d = decisions_table
            found = conn.execute(select(d.c.to_tier).where(
                d.c.to_group_id == int(group_id), d.c.to_tier.is_not(None)).limit(1)).scalar()
            if found is None:   # the group a ticket was escalated from belongs to from_tier
                found = conn.execute(select(d.c.from_tier).where(
                    d.c.group_id == int(group_id), d.c.escalated.is_(True),
                    d.c.from_tier.is_not(None)).limit(1)).scalar()
            if found is not None:
                self.tiers[int(group_id)] = found
        return found

    def _observe(self, conn: Connection, helpdesk: str, ticket: Ticket, at: datetime,
                 risk_tags: Iterable[str] = ()) -> None:
        t = tickets_table
        key = (t.c.helpdesk == helpdesk) & (t.c.ticket_id == int(ticket.id))
        _upsert_ignore(conn, t, {"helpdesk": helpdesk, "ticket_id": int(ticket.id),
                                 "first_seen_at": to_db(at), "last_seen_at": to_db(at),
                                 "risk_tags": [], "changes": [], "reopens": 0, "handoffs": 0,
                                 "agent_replies": 0})
        q = select(t).where(key)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        old = conn.execute(q).mappings().one()
        new: dict[str, Any] = {
            "first_seen_at": min(x for x in (old["first_seen_at"], to_db(at)) if x is not None),
            "last_seen_at": max(x for x in (old["last_seen_at"], to_db(at)) if x is not None),
            "risk_tags": sorted(set(old["risk_tags"] or []) | set(risk_tags)),
        }
        if ticket.satisfaction in ("good", "bad"):
            new["satisfaction"] = ticket.satisfaction
        # a snapshot no newer than the stored one adds nothing (and must not undo what record()
        # knows its own write changed)
        stale = (old["updated_at"] is not None and ticket.updated_at is not None
                 and to_db(ticket.updated_at) <= old["updated_at"])
        if not stale:
            new.update(self._snapshot_facts(conn, ticket, at, old))
        conn.execute(t.update().where(key).values(**new))

    def _snapshot_facts(self, conn: Connection, ticket: Ticket, at: datetime,
                        old: Mapping[str, Any]) -> dict[str, Any]:
        changes = list(ticket.changes)
        status_changes = [c for c in changes if c.field == "status"]
        group_changes = [c for c in changes if c.field == "group_id"]
        solved = ticket.status in SOLVED
        was_solved = old["status"] in SOLVED

        reopens_seen = sum(1 for c in status_changes if c.old in SOLVED and c.new not in SOLVED)
        reopens = max(int(old["reopens"] or 0) + (1 if was_solved and not solved else 0), reopens_seen)
        handoffs_seen = sum(1 for c in group_changes if c.old is not None and c.new != c.old)
        moved = old["group_id"] is not None and ticket.group_id != old["group_id"]
        handoffs = max(int(old["handoffs"] or 0) + (1 if moved and not group_changes else 0), handoffs_seen)

        solved_at = None
        if solved:
            solves = [c.at for c in status_changes if c.new in SOLVED and c.at is not None]
            if solves:
                solved_at = to_db(solves[-1])
            elif was_solved and old["solved_at"] is not None:
                solved_at = old["solved_at"]
            else:
                solved_at = to_db(ticket.updated_at or at)
        first_solves = [c.at for c in status_changes if c.new in SOLVED and c.at is not None]
        first_solved_at = old["first_solved_at"]
        candidates = [x for x in (first_solved_at, to_db(first_solves[0]) if first_solves else None,
                                  solved_at) if x is not None]
        first_solved_at = min(candidates) if candidates else None

        agent_comments = [c for c in ticket.comments
                          if c.author_role == "agent" and TIERGATE_MARK not in (c.body or "")]
        last_agent = max((c.created_at for c in agent_comments if c.created_at), default=None)
        org = ticket.organization
        facts = {
            "subject": (ticket.subject or "")[:300], "created_at": to_db(ticket.created_at),
            "updated_at": to_db(ticket.updated_at), "status": ticket.status,
            "priority": ticket.priority, "type": ticket.type, "channel": ticket.channel,
            "group_id": ticket.group_id, "assignee_id": ticket.assignee_id,
            "reopens": reopens, "handoffs": handoffs, "first_solved_at": first_solved_at,
            "solved_at": solved_at,
            "agent_replies": max(sum(1 for c in agent_comments if c.public), int(old["agent_replies"] or 0)),
            "last_agent_comment_at": max((x for x in (to_db(last_agent), old["last_agent_comment_at"])
                                          if x is not None), default=None),
        }
        if org is not None:     # snapshots without the organization keep what was seen
            facts["organization"], facts["segment"] = org.name, org.segment
        if changes:
            facts["changes"] = [c.to_dict() for c in changes]
        if solved:
            facts["resolved_group_id"] = ticket.group_id
            facts["resolved_tier"] = self._tier_of(conn, ticket.group_id)
        else:
            facts["resolved_group_id"] = None
            facts["resolved_tier"] = None
        return facts

    # -- reviews ----------------------------------------------------------------------------
    def upsert_review(self, helpdesk: str, ticket_id: int, month: str, **values: Any) -> ReviewRow:
        """Create or update the review of one escalated ticket in one month."""
        self.ensure_schema()
        r = reviews_table
        now = to_db(datetime.now(timezone.utc))
        key = (r.c.helpdesk == helpdesk) & (r.c.ticket_id == int(ticket_id)) & (r.c.month == month)
        with self.engine.begin() as conn:
            _upsert_ignore(conn, r, {"helpdesk": helpdesk, "ticket_id": int(ticket_id), "month": month,
                                     "sample": values.get("sample", "manual"), "status": "queued",
                                     "created_at": now, "updated_at": now})
            values = {k: v for k, v in values.items() if v is not None}
            if values:
                conn.execute(r.update().where(key).values(updated_at=now, **values))
            row = conn.execute(select(r).where(key)).mappings().one()
        return _review(row)

    def reviews(self, month: str | None = None, *, months: Iterable[str] | None = None) -> list[ReviewRow]:
        self.ensure_schema()
        q = select(reviews_table).order_by(reviews_table.c.month, reviews_table.c.sample,
                                           reviews_table.c.helpdesk, reviews_table.c.ticket_id)
        if month is not None:
            q = q.where(reviews_table.c.month == month)
        if months is not None:
            q = q.where(reviews_table.c.month.in_(list(months)))
        with self.engine.connect() as conn:
            return [_review(m) for m in conn.execute(q).mappings()]

    # -- reading ----------------------------------------------------------------------------
    def facts(self, start: datetime | None = None, end: datetime | None = None,
              *, helpdesk: str | None = None, ticket_id: int | None = None) -> list[TicketFacts]:
        """Tickets opened in [start, end) (created_at, else first seen) with their decisions."""
        from sqlalchemy import func

        self.ensure_schema()
        t, d = tickets_table, decisions_table
        opened = func.coalesce(t.c.created_at, t.c.first_seen_at)
        q = select(t).order_by(t.c.helpdesk, t.c.ticket_id)
        dq = select(d).join(t, (t.c.helpdesk == d.c.helpdesk) & (t.c.ticket_id == d.c.ticket_id)).order_by(
            d.c.helpdesk, d.c.ticket_id, d.c.at, d.c.id)
        conditions = []
        if helpdesk is not None:
            conditions.append(t.c.helpdesk == helpdesk)
        if ticket_id is not None:
            conditions.append(t.c.ticket_id == int(ticket_id))
        if start is not None:
            conditions.append(opened >= to_db(start))
        if end is not None:
            conditions.append(opened < to_db(end))
        if conditions:
            q, dq = q.where(*conditions), dq.where(*conditions)
        with self.engine.connect() as conn:
            rows = list(conn.execute(q).mappings())
            decisions: dict[tuple[str, int], list[DecisionRow]] = {}
            for m in conn.execute(dq).mappings():
                decisions.setdefault((m["helpdesk"], int(m["ticket_id"])), []).append(_decision(m))
        return [_facts(m, decisions.get((m["helpdesk"], int(m["ticket_id"])), [])) for m in rows]

    def ticket(self, helpdesk: str, ticket_id: int) -> TicketFacts | None:
        found = self.facts(helpdesk=helpdesk, ticket_id=ticket_id)
        return found[0] if found else None

    def decisions(self) -> list[DecisionRow]:
        self.ensure_schema()
        d = decisions_table
        with self.engine.connect() as conn:
            return [_decision(m) for m in conn.execute(select(d).order_by(d.c.at, d.c.id)).mappings()]

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        self.ensure_schema()
        with self.engine.connect() as conn:
            return {name: int(conn.execute(select(func.count()).select_from(tbl)).scalar_one())
                    for name, tbl in (("tickets", tickets_table), ("decisions", decisions_table),
                                      ("reviews", reviews_table))}


def _decision(m: Mapping[str, Any]) -> DecisionRow:
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


def _facts(m: Mapping[str, Any], decisions: list[DecisionRow]) -> TicketFacts:
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


def _review(m: Mapping[str, Any]) -> ReviewRow:
    return ReviewRow(**{k: (from_db(v) if k in ("created_at", "updated_at") else v)
                        for k, v in dict(m).items()})


def _int(v: Any) -> int | None:
    return None if v is None else int(v)
