"""The durable decision log (``DecisionLog``): every decision taken and every outcome observed later.

Tables are created on first use (``log_schema``: tables, schema version, engine); reads return the
rows of ``log_rows``. A retried job records nothing twice (decisions are unique on helpdesk,
ticket, delivery id and instant).
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from tiergate.plugin.analytics.log_rows import (DecisionRow, ReviewRow, TicketFacts, decision_row, facts_row,
                                                manifest_tiers, review_row, tier_map)
from tiergate.plugin.analytics.log_schema import (SCHEMA_VERSION, SchemaError, add_missing_columns,
                                                  decisions_table, engine, meta_table, metadata, reviews_table,
                                                  tickets_table, to_db, upsert_ignore)
from tiergate.plugin.core.model import Decision, Enrichment, Ticket

DEFAULT_DB_URL = "sqlite:///tiergate.sqlite"
SOLVED = ("solved", "closed")
TIERGATE_MARK = "[tiergate:"


class DecisionLog:
    """``DecisionLog(db_url, tier_of_group=None)``; tables are created on first use.

    ``tier_of_group`` maps helpdesk group ids to tier / team names (a mapping or a manifest);
    groups it does not know are named from what escalation decisions recorded (the target group
    of an escalation belongs to its ``to_tier``).
    """
    def __init__(self, db_url: str | None = None, tier_of_group: Mapping[int, str] | Any = None,
                 *, helpdesk: str = "zendesk"):
        self.db_url = db_url or DEFAULT_DB_URL
        self.engine = engine(self.db_url)
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
                upsert_ignore(conn, meta_table, {"key": "schema_version", "value": str(SCHEMA_VERSION)})
                version = meta_table.c.key == "schema_version"
                found = int(conn.execute(select(meta_table.c.value).where(version)).scalar_one())
                if found < SCHEMA_VERSION:      # an older release's database: upgrade it in place
                    add_missing_columns(conn)
                    conn.execute(meta_table.update().where(version).values(value=str(SCHEMA_VERSION)))
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
            inserted = upsert_ignore(conn, decisions_table, row)
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
        upsert_ignore(conn, t, {"helpdesk": helpdesk, "ticket_id": int(ticket.id),
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
            upsert_ignore(conn, r, {"helpdesk": helpdesk, "ticket_id": int(ticket_id), "month": month,
                                     "sample": values.get("sample", "manual"), "status": "queued",
                                     "created_at": now, "updated_at": now})
            values = {k: v for k, v in values.items() if v is not None}
            if values:
                conn.execute(r.update().where(key).values(updated_at=now, **values))
            row = conn.execute(select(r).where(key)).mappings().one()
        return review_row(row)

    def reviews(self, month: str | None = None, *, months: Iterable[str] | None = None) -> list[ReviewRow]:
        self.ensure_schema()
        q = select(reviews_table).order_by(reviews_table.c.month, reviews_table.c.sample,
                                           reviews_table.c.helpdesk, reviews_table.c.ticket_id)
        if month is not None:
            q = q.where(reviews_table.c.month == month)
        if months is not None:
            q = q.where(reviews_table.c.month.in_(list(months)))
        with self.engine.connect() as conn:
            return [review_row(m) for m in conn.execute(q).mappings()]

    # -- reading ----------------------------------------------------------------------------
    def facts(self, start: datetime | None = None, end: datetime | None = None,
              *, helpdesk: str | None = None, ticket_id: int | None = None) -> list[TicketFacts]:
        """Tickets opened in [start, end) (created_at, else first seen) with their decisions."""
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
                decisions.setdefault((m["helpdesk"], int(m["ticket_id"])), []).append(decision_row(m))
        return [facts_row(m, decisions.get((m["helpdesk"], int(m["ticket_id"])), [])) for m in rows]

    def ticket(self, helpdesk: str, ticket_id: int) -> TicketFacts | None:
        found = self.facts(helpdesk=helpdesk, ticket_id=ticket_id)
        return found[0] if found else None

    def decisions(self) -> list[DecisionRow]:
        self.ensure_schema()
        d = decisions_table
        with self.engine.connect() as conn:
            return [decision_row(m) for m in conn.execute(select(d).order_by(d.c.at, d.c.id)).mappings()]

    def counts(self) -> dict[str, int]:
        self.ensure_schema()
        with self.engine.connect() as conn:
            return {name: int(conn.execute(select(func.count()).select_from(tbl)).scalar_one())
                    for name, tbl in (("tickets", tickets_table), ("decisions", decisions_table),
                                      ("reviews", reviews_table))}
