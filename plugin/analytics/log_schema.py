"""The decision log's storage: the tables, the schema version, instants in and out, the engine.

SQLAlchemy 2 Core over SQLite (embedded default, ``sqlite:///tiergate.sqlite``) or PostgreSQL
(production, ``postgresql+psycopg://...``); the schema carries a version in ``tg_meta`` so a later
release can upgrade it in place. All instants are stored as naive UTC and read back as aware UTC.

Three tables:
- ``tg_tickets``: one row per ticket seen (escalated or not): the denominators, and the outcomes
  (resolved at, reopens, CSAT, the tier it was resolved in, handoffs, agent replies).
- ``tg_decisions``: one row per decision, unique on (helpdesk, ticket, delivery id, at), so a
  retried job records nothing twice.
- ``tg_reviews``: post-escalation review records (see ``review.py``); a verdict (necessary or
  not, and an optional ``level``: how far the ticket should have been escalated) is a training
  label for ``tiergate train`` (``verdicts.py``).

Version 2 added ``tg_reviews.level``; ``add_missing_columns`` adds it to a version-1 database.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, Float, Index, Integer, MetaData, String,
                        Table, Text, UniqueConstraint, create_engine, event, insert, inspect, text)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

SCHEMA_VERSION = 2

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
    Column("level", Integer),                             # the level it should have had (0: none)
    UniqueConstraint("helpdesk", "ticket_id", "month", name="uq_tg_review"),
)


# columns later versions added to an existing table: (table, column, SQL type)
ADDED_COLUMNS = (("tg_reviews", "level", "INTEGER"),)


def add_missing_columns(conn: Connection) -> list[str]:
    """``ALTER TABLE ... ADD COLUMN`` for each column of ``ADDED_COLUMNS`` an older database lacks;
    returns the ``table.column`` names added."""
    added = []
    for table, column, sql_type in ADDED_COLUMNS:
        if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
            added.append(f"{table}.{column}")
    return added


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


def engine(db_url: str) -> Engine:
    """The engine for ``db_url`` (SQLite: WAL and a busy timeout; ``postgresql://`` -> psycopg)."""
    if db_url.startswith("sqlite"):
        made = create_engine(db_url, connect_args={"timeout": 30})

        @event.listens_for(made, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            if ":memory:" not in db_url and db_url not in ("sqlite://", "sqlite:///"):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return made
    if db_url.startswith("postgresql://") or db_url.startswith("postgres://"):
        db_url = "postgresql+psycopg://" + db_url.split("://", 1)[1]
    return create_engine(db_url, pool_pre_ping=True)


def upsert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL; True if a row was inserted."""
    name = conn.dialect.name
    if name in ("postgresql", "sqlite"):
        dialect_insert = postgresql.insert if name == "postgresql" else sqlite.insert
    else:  # pragma: no cover - other databases: plain insert, duplicate -> IntegrityError ignored
        try:
            with conn.begin_nested():
                conn.execute(insert(table).values(**values))
            return True
        except IntegrityError:
            return False
    pk = list(table.primary_key.columns)[0]
    result = conn.execute(dialect_insert(table).values(**values).on_conflict_do_nothing().returning(pk))
    return result.first() is not None
