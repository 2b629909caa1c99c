"""Where a public promise is recorded: in tiergate's own private note, never in the reply.

A ``public_update`` action promises the customer the next update by a time; the SLA clock for
that promise (``sla`` metrics ``acknowledgement`` / ``response_window``) is started by the
marker ``[tiergate-commitment:<kind>:<due>]``. Customers must never see internal markers, so
``record(notes)`` takes the markers out of every public note of one update and writes them into
a private note of the same update: appended to the first private note tiergate writes anyway
(e.g. the handoff note), or, when there is none, into a short private note of its own saying
what was promised and by when. ``sla`` believes a commitment marker only in a comment by
tiergate's own helpdesk user.

Pure: no I/O, no clock reads.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Sequence

from tiergate.plugin.core.model import Note, parse_time

COMMITMENT_RE = re.compile(r"\[tiergate-commitment:([a-z_]+):([0-9T:.+\-Z]+)\]")
_MARKER_LINE = re.compile(r"[ \t]*\n*[ \t]*\[tiergate-commitment:[a-z_]+:[0-9T:.+\-Z]+\][ \t]*")
_WHAT = {"ack": "an acknowledgement", "acknowledgement": "an acknowledgement",
         "response": "a response", "response_window": "a response"}


def split(body: str) -> tuple[str, list[str]]:
    """``body`` without commitment markers, and the markers it carried (in order)."""
    found = [m.group(0) for m in COMMITMENT_RE.finditer(body or "")]
    if not found:
        return body, []
    return _MARKER_LINE.sub("", body).rstrip(), found


def what(kind: str) -> str | None:
    """``an acknowledgement`` for the marker kind ``ack`` (None for a kind not promised)."""
    return _WHAT.get(kind)


def describe(marker: str) -> str:
    """``an acknowledgement by 2026-11-25 13:30 UTC`` for a commitment marker."""
    m = COMMITMENT_RE.fullmatch(marker)
    if m is None:
        return marker
    promised = what(m.group(1)) or m.group(1)
    try:
        due: datetime | None = parse_time(m.group(2))
    except ValueError:
        due = None
    when = due.strftime("%Y-%m-%d %H:%M UTC") if due is not None else m.group(2)
    return f"{promised} by {when}"


def _lines(markers: Sequence[str]) -> str:
    return "\n".join(f"Promised to the customer in the public reply of this update: "
                     f"{describe(x)}.\n{x}" for x in markers)


def record(notes: Sequence[Note]) -> list[Note]:
    """The notes of one update with every commitment marker moved out of the public notes into
    a private note of the same update (the first one, or a new one placed after the reply)."""
    out: list[Note] = []
    moved: list[str] = []
    sources: list[str] = []
    for n in notes:
        if not n.public:
            out.append(n)
            continue
        body, found = split(n.body)
        if found:
            moved.extend(found)
            sources.append(n.fingerprint or "")
            n = Note(body, True, n.fingerprint)
        out.append(n)
    if not moved:
        return out
    for i, n in enumerate(out):
        if not n.public:
            out[i] = Note(f"{n.body.rstrip()}\n\n{_lines(moved)}", False, n.fingerprint)
            return out
    fp = hashlib.sha256("|".join([*sources, "commitment"]).encode()).hexdigest()[:16]
    out.append(Note(_lines(moved), False, fp))
    return out


__all__ = ["COMMITMENT_RE", "record", "split", "describe", "what"]
