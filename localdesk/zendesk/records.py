"""Helpers shared by the local Zendesk's stores: the clock, ISO stamps (whole seconds, like
Zendesk's ``2026-01-01T00:00:00Z``), unique tag lists and threads kept in time order."""
from __future__ import annotations

import bisect
from datetime import datetime, timezone
from typing import Iterable

from tiergate.plugin.core.model import format_time, parse_time


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def whole_seconds(at: datetime) -> datetime:
    return at.replace(microsecond=0)


def iso(at: datetime | None) -> str | None:
    """``2026-01-01T00:00:00Z``: Zendesk answers every stamp in whole seconds."""
    return format_time(whole_seconds(at)) if at is not None else None


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(t) for t in items if str(t)))


def insort_by_time(items: list[dict], item: dict) -> None:
    """Keeps a thread in ``created_at`` order; an item newer than the last one is appended."""
    if items and parse_time(items[-1]["created_at"]) > parse_time(item["created_at"]):
        bisect.insort(items, item, key=lambda c: parse_time(c["created_at"]))
    else:
        items.append(item)
