"""Training history from helpdesk tickets: the JSON lines ``tiergate backfill --history FILE``
writes and ``tiergate train --history FILE`` reads (format: ``tiergate.nlp.records``).

How far a resolved ticket was escalated is read from the groups it passed through (the group
it was created in, then every audited ``group_id`` change) and the manifest's tiers and teams:

0  it stayed at the tier it started in (or only moved down);
1  it moved to a higher tier or to a functional team (a team started in counts at its
   ``rank`` on the tiers' scale);
2  it reached the manifest's top tier (management) from below it.

Groups the manifest does not name are skipped. Pure: no I/O.
"""
from __future__ import annotations

from typing import Any

from tiergate.nlp.points import customer_texts
from tiergate.plugin.core.model import Ticket

RESOLVED = frozenset({"solved", "closed"})


def group_path(ticket: Ticket) -> list[int]:
    """The ticket's groups in the order it was in them (repeats kept out of a row)."""
    moves = [c for c in ticket.changes if c.field == "group_id"]
    path = [moves[0].old, *(c.new for c in moves)] if moves else [ticket.group_id]
    out: list[int] = []
    for g in path:
        try:
            g = int(g)
        except (TypeError, ValueError):
            continue
        if not out or out[-1] != g:
            out.append(g)
    return out


def escalation_level(ticket: Ticket, manifest: Any) -> int:
    """0, 1 or 2 as the module docstring says."""
    tiers = {t.group_id: t.order for t in manifest.tiers.values()}
    teams = {t.group_id: t.rank for t in manifest.teams.values()}   # rank: on the tiers' scale
    top = max(tiers.values(), default=None)
    path = [g for g in group_path(ticket) if g in tiers or g in teams]
    if not path:
        return 0
    start = tiers.get(path[0], teams.get(path[0]))
    level = 0
    for g in path[1:]:
        if g in teams:
            level = max(level, 1)
        elif tiers[g] > start:
            level = max(level, 2 if tiers[g] == top else 1)
    return level


def history_record(ticket: Ticket, manifest: Any) -> dict[str, Any] | None:
    """The training line of a resolved ticket (customer comments oldest first, ``level`` and
    the matching ``label``); None while the ticket is not solved or closed."""
    if (ticket.status or "").lower() not in RESOLVED:
        return None
    _, texts = customer_texts(ticket)
    if not any(t.strip() for t in texts):
        return None
    level = escalation_level(ticket, manifest)
    return {"id": ticket.id, "comments": texts, "label": level > 0, "level": level}
