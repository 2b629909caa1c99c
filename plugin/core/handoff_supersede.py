"""One handoff note per escalation step: a stale note is superseded, never stacked.

Zendesk comments cannot be edited through the API, so when the facts of tiergate's latest
handoff note change before anyone acts on it, tiergate writes one new note that says it replaces
the earlier one (and names it) and carries the fresh facts.

Each handoff note ends with a signed step line ``[tiergate-step:<payload>.<mac>]`` (payload:
base64url JSON of the escalation, i.e. trigger, target, group and owner, and ``sla``, a digest of
the SLA state the note was written for; mac as in ``handoff_marker``, so a rotated secret still
recognises older notes). It is believed only in a private note by tiergate's own user.

``supersede(...)`` returns the superseding note when all hold:

- the latest believed step note is for the current step (the ticket is still in its group);
- nobody acted since: no agent comment (public or private) and no group or assignee change by
  a person after the note;
- its facts changed: a customer comment after the note, or the SLA state (each running clock's
  target and stage: ok, warn, breach) differs from the one recorded.

The new note carries a step line of its own, so deciding again on the same ticket state finds
nothing changed (and its fingerprint, built from what changed, is never written twice).

Pure: no I/O, no clock reads.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Sequence

from tiergate.plugin.core.handoff_marker import MARKER_RE, fingerprint, mac, marker_keys, verifies
from tiergate.plugin.core.handoff_thread import _is_customer
from tiergate.plugin.core.model import ClockState, Comment, Escalation, Note, Ticket
from tiergate.plugin.core.sla import clocks as sla_clocks, stage

STEP_RE = re.compile(r"\[tiergate-step:([A-Za-z0-9_-]{1,600})\.([0-9a-f]{16})\]")
_STAGE_METRICS_SKIPPED = ("commitment",)        # tiergate's own promises: not a fact of the step


@dataclass(frozen=True)
class Step:
    """The latest believed step note on a ticket."""

    index: int
    comment: Comment
    escalation: Escalation
    sla: str
    fingerprint: str


def sla_state(clocks: Sequence[ClockState]) -> str:
    """Digest of each running clock's target and stage (``ok``, ``warn:<pct>``, ``breach``)."""
    parts = sorted(f"{c.metric}:{round(c.target_minutes, 1)}:{stage(c)}" for c in clocks
                   if c.policy not in _STAGE_METRICS_SKIPPED)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def step_line(esc: Escalation, sla: str, keys: Sequence[bytes] | None = None) -> str:
    payload = {"t": esc.trigger, "to": esc.to_tier, "from": esc.from_tier, "k": esc.kind,
               "g": esc.group_id, "o": esc.owner_id, "sla": sla}
    raw = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
    text = raw.decode().rstrip("=")
    return f"[tiergate-step:{text}.{mac(text, (keys or marker_keys())[0])}]"


def with_step(note: Note, esc: Escalation, sla: str, keys: Sequence[bytes] | None) -> Note:
    """``note`` with its step line (before its own marker, which ``seal`` puts last)."""
    body = STEP_RE.sub("", note.body).rstrip()
    head, sep, tail = body.rpartition("\n\n[tiergate:")
    line = step_line(esc, sla, keys)
    body = f"{head}\n\n{line}{sep}{tail}" if sep else f"{body}\n\n{line}"
    return Note(body, note.public, note.fingerprint)


def _parse(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("t"), str) else None


def latest_step(ticket: Ticket, bots: frozenset[int], keys: Sequence[bytes]) -> Step | None:
    """The newest private note by tiergate's own user with a step line that verifies."""
    comments = list(ticket.comments or ())
    for i in range(len(comments) - 1, -1, -1):
        c = comments[i]
        if c.public or c.author_id not in bots:
            continue
        for m in reversed(list(STEP_RE.finditer(c.body or ""))):
            if not verifies(m.group(1), m.group(2), keys):
                continue
            data = _parse(m.group(1))
            if data is None:
                continue
            esc = Escalation(from_tier=data.get("from"), to_tier=str(data.get("to")),
                             kind=str(data.get("k") or "hierarchical"), group_id=data.get("g"),
                             owner_id=data.get("o"), trigger=data["t"])
            fps = MARKER_RE.findall(c.body or "")
            return Step(i, c, esc, str(data.get("sla") or ""), fps[-1][0] if fps else "")
    return None


def _acted_since(ticket: Ticket, step: Step, bots: frozenset[int]) -> bool:
    for c in list(ticket.comments or ())[step.index + 1:]:
        if c.author_id not in bots and not _is_customer(c, ticket):
            return True
    at = step.comment.created_at
    for ch in ticket.changes or ():
        if ch.field not in ("group_id", "assignee_id") or ch.at is None or at is None:
            continue
        if ch.author_id in bots:
            continue
        if ch.at > at or (ch.at == at and ch.author_id is not None):
            return True
    return False


def what_changed(ticket: Ticket, step: Step, sla: str) -> list[str]:
    out = []
    new = [c for c in list(ticket.comments or ())[step.index + 1:] if _is_customer(c, ticket)]
    if new:
        out.append("the customer wrote again" if len(new) == 1
                   else f"the customer wrote {len(new)} more messages")
    if sla != step.sla:
        out.append("the SLA moved")
    return out


def supersede(ticket: Ticket, clocks: Sequence[ClockState], bots: frozenset[int],
              keys: Sequence[bytes], render: Callable[[Escalation], Note]
              ) -> tuple[Note | None, Escalation | None, str | None]:
    """The superseding handoff note (``render(escalation)`` builds the fresh one, without its
    step line: ``mark_step`` adds it), the step's escalation and a reason line; ``(None, None,
    None)`` when the latest note still stands or someone already acted."""
    step = latest_step(ticket, bots, keys)
    if step is None or step.escalation.group_id != ticket.group_id:
        return None, None, None
    if _acted_since(ticket, step, bots):
        return None, None, None
    state = sla_state(clocks)
    changed = what_changed(ticket, step, state)
    if not changed:
        return None, None, None
    last = max((c.id for c in ticket.comments or ()), default=0)
    esc = step.escalation
    fp = fingerprint(ticket.id, esc.trigger, esc.to_tier, f"{step.fingerprint}:{last}:{state}",
                     kind="supersede")
    fresh = render(esc)
    when = step.comment.created_at.strftime("%Y-%m-%d %H:%M UTC") if step.comment.created_at \
        else "earlier"
    ref = f" (note {step.fingerprint})" if step.fingerprint else ""
    head = (f"**Replaces the earlier handoff note of {when}**{ref}: {' and '.join(changed)} "
            "before anyone acted. Read this one; the earlier note is out of date.\n\n")
    return Note(head + fresh.body, False, fp), esc, \
        f"handoff note superseded ({'; '.join(changed)}): one new note replaces {step.fingerprint}"


def mark_step(notes: Sequence[Note], fp: str, esc: Escalation, ticket: Ticket, update: Any,
              enrichment: Any, manifest: Any, now: datetime, bots: frozenset[int],
              keys: Sequence[bytes]) -> list[Note]:
    """``notes`` with the step line added to the (sealed) handoff note ``fp``. The SLA state it
    records is the one after this very update lands (priority, group, assignee, tags and
    tiergate's own comments applied), so tiergate's own write never reads as "the SLA moved"."""
    if not any(n.fingerprint == fp and not n.public for n in notes):
        return list(notes)
    bot = min(bots) if bots else None
    last = max((c.id for c in ticket.comments or ()), default=0)
    added = tuple(Comment(last + 1 + i, bot, "agent", n.body, n.public, now)
                  for i, n in enumerate(notes))
    tags = (set(ticket.tags) | set(update.add_tags)) - set(update.remove_tags)
    after = dataclasses.replace(
        ticket, comments=tuple(ticket.comments or ()) + added, tags=tuple(sorted(tags)),
        priority=update.priority or ticket.priority,
        group_id=update.group_id if update.group_id is not None else ticket.group_id,
        assignee_id=update.assignee_id if update.assignee_id is not None else ticket.assignee_id)
    state = sla_state(sla_clocks(after, enrichment, manifest, now))
    return [with_step(n, esc, state, keys) if n.fingerprint == fp and not n.public else n
            for n in notes]


__all__ = ["supersede", "mark_step", "sla_state", "step_line", "with_step", "latest_step", "what_changed",
           "STEP_RE", "Step"]
