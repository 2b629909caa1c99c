"""Helpers for the handoff tests (no tests here): golden conversations, the note for one, the
signed marker at a note's end, and adding a comment to a ticket."""
from __future__ import annotations

import dataclasses
import re

from test_handoff_golden import MANIFEST, load
from tiergate.plugin.core import handoff as h
from tiergate.plugin.core.model import Comment, Ticket

MARKER = re.compile(r"\[tiergate:([0-9a-f]{16})\.[0-9a-f]{16}\]")


def ends_with_marker(body: str, fp: str) -> bool:
    """The last line is the signed marker of ``fp``."""
    m = MARKER.fullmatch(body.splitlines()[-1])
    return bool(m) and m.group(1) == fp


def conv(name):
    return load(name)


def note_for(c, manifest=MANIFEST, **kw):
    return h.handoff_note(c["ticket"], c["enrichment"], c["escalation"], c["fired"], c["clocks"],
                          manifest, c["now"], parent=c["parent"], **kw)


def add_comment(ticket: Ticket, body: str, *, role="end-user", author=5001, channel="email",
                public=True, at=None, attachments=()) -> Ticket:
    at = at or ticket.updated_at
    c = Comment(id=len(ticket.comments) + 90000, author_id=author, author_role=role, body=body,
                public=public, created_at=at, channel=channel, attachments=tuple(attachments))
    return dataclasses.replace(ticket, comments=ticket.comments + (c,))
