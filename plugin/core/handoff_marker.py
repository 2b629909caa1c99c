"""The marker that ends each internal note tiergate writes, and who may be believed about it.

A marker is the line ``[tiergate:<id>.<mac>]``: ``<id>`` is the note's fingerprint (a stable
hash of what the note is about: ticket, trigger, target, episode, kind; ``Note.fingerprint``),
``<mac>`` the first 16 hex digits of HMAC-SHA256(secret, ``<id>``). Secrets come from the
configuration, newest first; the older ones keep recognising notes written before a rotation.

A marker counts as "this note is already written" only when it verifies under one of the
secrets and sits in a private comment authored by tiergate's own helpdesk user. Marker-like text
anywhere else (pasted by a customer into a public reply, written by another agent, or with a
MAC that does not verify) is ignored and reported by ``suspect_markers`` so the decision log
shows a possible forgery. Public comments carry no marker at all (``public_body``).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any, Iterable, Sequence

from tiergate.plugin.core.model import Comment, Note, Ticket

#: Used only when no secret is configured; markers are then still trusted only from private
#: notes by tiergate's own user, but the MAC protects nothing.
UNCONFIGURED_SECRET = b"tiergate-unconfigured-note-secret"

MARKER_RE = re.compile(r"\[tiergate:([0-9a-f]{16})(?:\.([0-9a-f]{16}))?\]")
_ANY_MARKER = re.compile(r"\n*\[tiergate:[^\]\n]{0,80}\]")
#: Any internal tiergate marker: the note marker ``[tiergate:…]`` and the others
#: (``[tiergate-commitment:…]``, ``[tiergate-step:…]``); none may reach a customer.
INTERNAL_MARKER_RE = re.compile(r"\[tiergate(?::|-[a-z]+:)")
_ANY_INTERNAL = re.compile(r"\n*\[tiergate(?::|-[a-z]+:)[^\]\n]{0,800}\]")


def fingerprint(ticket_id: Any, trigger: str, to_tier: str, episode: Any = 0,
                kind: str = "handoff") -> str:
    """Stable 16-hex hash of (ticket id, trigger, to_tier, episode[, kind])."""
    parts = [str(ticket_id), str(trigger), str(to_tier), str(episode)]
    if kind != "handoff":
        parts.append(kind)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def marker_keys(secrets: Iterable[str | bytes] | str | bytes | None = None) -> tuple[bytes, ...]:
    """Configured secrets as keys, newest first (a string may list several, comma-separated)."""
    if secrets is None:
        return (UNCONFIGURED_SECRET,)
    if isinstance(secrets, (str, bytes)):
        secrets = [secrets]
    keys: list[bytes] = []
    for s in secrets:
        for part in (s.split(",") if isinstance(s, str) else [s]):
            raw = part.strip().encode() if isinstance(part, str) else part.strip()
            if raw:
                keys.append(raw)
    return tuple(keys) or (UNCONFIGURED_SECRET,)


def mac(fp: str, key: bytes) -> str:
    return hmac.new(key, fp.encode(), hashlib.sha256).hexdigest()[:16]


def marker(fp: str, keys: Sequence[bytes] | None = None) -> str:
    """The signed marker line for fingerprint ``fp`` (newest key)."""
    key = (keys or marker_keys())[0]
    return f"[tiergate:{fp}.{mac(fp, key)}]"


def verifies(fp: str, tag: str | None, keys: Sequence[bytes]) -> bool:
    return bool(tag) and any(hmac.compare_digest(mac(fp, k), tag) for k in keys)


def seal(note: Note, keys: Sequence[bytes] | None = None) -> Note:
    """An internal note ending with its marker signed under the newest key; a public note with
    every marker removed."""
    body = public_text(note.body) if note.public else note.body
    if note.public:
        return Note(body, True, note.fingerprint)
    if not note.fingerprint:
        return note
    body = _ANY_MARKER.sub("", body).rstrip()
    return Note(f"{body}\n\n{marker(note.fingerprint, keys)}", False, note.fingerprint)


def public_text(body: str) -> str:
    """A public body without any of tiergate's internal markers."""
    return _ANY_INTERNAL.sub("", body or "").rstrip()


def public_body(note: Note) -> Note:
    return note if not note.public else Note(public_text(note.body), True, note.fingerprint)


def _trusted_author(c: Comment, bots: Iterable[int]) -> bool:
    return not c.public and c.author_id is not None and c.author_id in set(bots)


def trusted_fingerprints(ticket: Ticket, bots: Iterable[int],
                         keys: Sequence[bytes] | None = None) -> frozenset[str]:
    """Fingerprints of the notes tiergate has written on ``ticket``: signed markers that verify,
    in private comments by tiergate's own user."""
    keys = keys or marker_keys()
    bots = set(bots)
    out = set()
    for c in ticket.comments or ():
        if not _trusted_author(c, bots):
            continue
        for m in MARKER_RE.finditer(c.body or ""):
            if verifies(m.group(1), m.group(2), keys):
                out.add(m.group(1))
    return frozenset(out)


def suspect_markers(ticket: Ticket, bots: Iterable[int],
                    keys: Sequence[bytes] | None = None) -> list[str]:
    """One readable line per marker that is not believed (where it is and why)."""
    keys = keys or marker_keys()
    bots = set(bots)
    out = []
    for i, c in enumerate(ticket.comments or ()):
        for m in MARKER_RE.finditer(c.body or ""):
            if _trusted_author(c, bots) and verifies(m.group(1), m.group(2), keys):
                continue
            where = "public comment" if c.public else "private comment"
            if c.author_id in bots:
                why = "its signature does not verify"
            else:
                why = f"written by user {c.author_id}, not by tiergate"
            out.append(f"marker {m.group(1)} in {where} #{i + 1} ignored ({why}): "
                       "possible forgery")
    return out


def contains_marker(text: str) -> bool:
    return bool(_ANY_MARKER.search(text or ""))


def has_internal_marker(text: str) -> bool:
    """True when ``text`` carries any internal tiergate marker (``[tiergate:…]``,
    ``[tiergate-commitment:…]``, ...)."""
    return bool(INTERNAL_MARKER_RE.search(text or ""))


__all__ = ["fingerprint", "marker", "marker_keys", "mac", "verifies", "seal", "public_text",
           "public_body", "trusted_fingerprints", "suspect_markers", "contains_marker",
           "has_internal_marker", "INTERNAL_MARKER_RE",
           "MARKER_RE", "UNCONFIGURED_SECRET"]
