"""On-call page attempts in the decision log: table ``oncall_pages`` in the decision-log database
(``TIERGATE_DB_URL``), one row per attempt: when, helpdesk, ticket, page fingerprint, route,
channel kind, where to (an address, or scheme and host only: a Slack webhook's path is a secret),
status (``sent``, ``retrying``, ``failed``), attempt number and detail. ``pages(db_url)`` reads them
back, oldest first. Recording never fails a delivery: a database error is logged and skipped."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, select

from tiergate.plugin.analytics.log_schema import engine as make_engine

log = logging.getLogger("tiergate.jobs.pages_log")

metadata = MetaData()
pages_table = Table(
    "oncall_pages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("helpdesk", String(32), nullable=False),
    Column("ticket_id", Integer, nullable=False),
    Column("fingerprint", String(128), nullable=False, index=True),
    Column("route", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", String(320), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("detail", Text),
)
_engines: dict[str, Any] = {}


def _engine_for(db_url: str):
    engine = _engines.get(db_url)
    if engine is None:
        engine = make_engine(db_url)
        metadata.create_all(engine, checkfirst=True)
        _engines[db_url] = engine
    return engine


def record_page(payload: dict, *, status: str, attempt: int, detail: str, where: str) -> None:
    db_url = payload.get("db_url")
    if not db_url:
        return
    note = payload["notification"]
    try:
        with _engine_for(db_url).begin() as conn:
            conn.execute(pages_table.insert().values(
                at=datetime.now(timezone.utc), helpdesk=payload["helpdesk"], ticket_id=int(payload["ticket_id"]),
                fingerprint=note["fingerprint"], route=note["route"], channel=payload["channel"]["kind"],
                target=where[:320], status=status, attempt=attempt, detail=detail[:2000]))
    except Exception as exc:  # noqa: BLE001 - the page itself must not fail on the log
        log.error("page log unavailable error=%s", type(exc).__name__)


def pages(db_url: str) -> list[dict[str, Any]]:
    with _engine_for(db_url).connect() as conn:
        rows = conn.execute(select(pages_table).order_by(pages_table.c.id)).mappings().all()
    return [dict(r) for r in rows]
