"""The facts a handoff note states, computed from the ticket (never from the rule that fired).

``note_facts(ticket, enrichment, escalation, clocks, manifest, now) -> NoteFacts``:

- ``contacts``: comments written by the requester or a CC (end-users) since the ticket opened
  (the description counts once when the ticket has no comments), with their channels;
- ``opened_at`` / ``tier_since``: when the ticket was opened and when it entered the group it
  sits in now (the latest ``group_id`` change into it, else the opening); ``from_label``: the
  group this move takes it from;
- ``clocks``: the SLA clocks (target, time left, due, breached, paused);
- ``owner``: the group and person that own the ticket after this move;
- ``approver``: one approver with the limit and the amount, or None (``handoff_authority``);
- ``handoffs``: the earlier group changes, oldest first;
- ``wants``: the customer's request sentences (own words, latest message first), or what the
  problem asks for when they said nothing explicit; ``deadline``: the deadline they stated
  (``Enrichment.stakes``, else ``stakes.find_stakes`` over their own words);
- ``impact``: people / seats / sites affected, money at stake, the account.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from tiergate.plugin.core.handoff_authority import Approver, approver_for
from tiergate.plugin.core.handoff_text import TierInfo, _bot_ids, _find_tier, _people
from tiergate.plugin.core.handoff_thread import _is_customer, _thread, sentence_with
from tiergate.plugin.core.model import ClockState, Comment, Enrichment, Escalation, Ticket
from tiergate.plugin.core.sentences import sentences
from tiergate.plugin.core.stakes import find_stakes


@dataclass(frozen=True)
class Handoff:
    """One earlier move between groups."""

    at: datetime | None
    from_label: str
    to_label: str
    by: str            # a person's name, "tiergate" or "" when unknown


@dataclass(frozen=True)
class Want:
    text: str          # the customer's sentence, or a reading of the problem
    comment: Comment | None
    stated: bool       # True: the customer's own words


@dataclass(frozen=True)
class NoteFacts:
    contacts: tuple[Comment, ...]
    opened_at: datetime | None
    tier_since: datetime | None
    tier_label: str                       # the group the ticket sits in now
    from_label: str                       # the group this move takes it from
    owner_tier: TierInfo | None
    owner_label: str
    owner_group_id: int | None
    owner_id: int | None
    owner_name: str | None
    approver: Approver | None
    handoffs: tuple[Handoff, ...]
    wants: tuple[Want, ...]
    deadline: str | None
    deadline_days: float | None
    deadline_sentence: str | None
    stakes: Mapping[str, Any] = field(default_factory=dict)
    clocks: tuple[ClockState, ...] = ()

    @property
    def contact_count(self) -> int:
        return len(self.contacts)


_QUOTE_START = re.compile(r"^\s*(?:On .{0,200}wrote:|-{2,}\s*(?:Original|Forwarded) Message|"
                          r"From:\s.+|Am .{0,200}schrieb .{0,80}:|Le .{0,200}a écrit ?:|"
                          r"El .{0,200}escribió:)\s*$", re.I | re.M)


def own_words(text: str) -> str:
    """The author's own words, cheaply: no ``>`` lines, nothing after a reply or forward
    header (the enrichment's full reader, ``nlp.reading``, is not needed for quoting)."""
    text = text or ""
    m = _QUOTE_START.search(text)
    if m:
        text = text[:m.start()]
    return "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith(">")).strip()


_ASK = re.compile(
    r"\b(please|pls|can you|could you|would you|can we|could we|can someone|i need|we need|"
    r"i want|we want|i'd like|we'd like|i would like|we would like|i expect|we expect|"
    r"i demand|we demand|i ask|we ask|i'm asking|we are asking|i request|we request|"
    r"needs? (?:this|it|you|a|an|the|our|my)|wants? (?:a|an|my|our|the|you|this|it|to)|"
    r"refund\w*|reimburs\w*|restor\w*|revers\w*|cancel (?:my|our|the|it|this)|call me|"
    r"call us|speak to|talk to|"
    r"get back to|fix (?:this|it)|sort (?:this|it) out|asap|urgently)\b", re.I)
_NOT_ASK = re.compile(r"\b(i|we) (?:already |also )?(?:tried|restarted|cleared|reset)\b", re.I)

#: What a problem asks for when the customer never says it in words (by risk tag, first wins).
_IMPLIED = (("outage", "the service working again"),
            ("data_loss", "their lost data restored"),
            ("login", "access to their account again"),
            ("security", "the account secured and an explanation of what happened"),
            ("billing", "the charges checked and corrected"),
            ("refund", "a refund"),
            ("privacy", "their data-protection request handled"),
            ("cancel", "to cancel"),
            ("churn", "a reason to stay"),
            ("human_request", "a person to call them back"),
            ("delay", "an answer without more waiting"),
            ("problem", "the problem fixed"))


def _customer_comments(ticket: Ticket, bots: frozenset[int]) -> tuple[Comment, ...]:
    return tuple(c for c in _thread(ticket)
                 if _is_customer(c, ticket) and c.author_id not in bots)


def _moves(ticket: Ticket) -> list:
    return [ch for ch in ticket.changes or () if ch.field == "group_id" and ch.old is not None
            and ch.new is not None and ch.old != ch.new]


def _before_this_move(ticket: Ticket, escalation: Escalation) -> tuple[list, Any]:
    """The earlier moves and the group the ticket leaves. When the ticket already sits in the
    target group (a move made by hand), its latest move is this one, not an earlier handoff."""
    moves = _moves(ticket)
    if (moves and escalation.group_id is not None and ticket.group_id == escalation.group_id
            and moves[-1].new == escalation.group_id):
        return moves[:-1], moves[-1].old
    return moves, ticket.group_id


def _tier_since(ticket: Ticket, moves: list, group: Any) -> datetime | None:
    for ch in reversed(moves):
        if ch.new == group and ch.at is not None:
            return ch.at
    return ticket.created_at


def _label(manifest: Any, group_id: Any) -> str:
    tier = _find_tier(manifest, group_id=group_id) if group_id is not None else None
    if tier is not None:
        return tier.label
    return "no group" if group_id is None else f"group {group_id}"


def _handoffs(moves: list, manifest: Any, bots: frozenset[int]) -> tuple[Handoff, ...]:
    people = _people(manifest)
    out = []
    for ch in moves:
        by = ("tiergate" if ch.author_id in bots else
              people.get(ch.author_id, f"agent #{ch.author_id}") if ch.author_id is not None
              else "")
        out.append(Handoff(ch.at, _label(manifest, ch.old), _label(manifest, ch.new), by))
    return tuple(out)


def _wants(contacts: Sequence[Comment], ticket: Ticket,
           enrichment: Enrichment | None) -> tuple[Want, ...]:
    out: list[Want] = []
    seen: set[str] = set()
    for c in reversed(contacts):
        for s in sentences(own_words(c.body or "")):
            key = s.lower()
            question = s.endswith("?") and len(s.split()) >= 5    # "Any news?" only chases
            if key in seen or _NOT_ASK.search(s) or not (_ASK.search(s) or question):
                continue
            seen.add(key)
            out.append(Want(s, c, True))
            if len(out) == 2:
                return tuple(out)
    if out:
        return tuple(out)
    tags = [r.tag for r in (enrichment.risk_tags if enrichment else ())]
    for tag, wish in _IMPLIED:
        if tag in tags:
            return (Want(wish, None, False),)
    return ()


def _stakes(contacts: Sequence[Comment], ticket: Ticket, enrichment: Enrichment | None,
            now: datetime) -> dict[str, Any]:
    if enrichment is not None and (enrichment.stakes or enrichment.language != "und"):
        return dict(enrichment.stakes or {})      # the enricher read this ticket already
    texts = [own_words(c.body or "") for c in contacts]
    if ticket.subject:
        texts.insert(0, ticket.subject)
    return {k: v for k, v in find_stakes(texts, now).to_dict().items() if v not in (None, False)}


_BEFORE = re.compile(
    r"\b(?:by|before|until|no later than)\s+(?:the\s+|this\s+|next\s+|our\s+)?"
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend|tomorrow|tonight|"
    r"end of (?:the )?(?:day|week|month)|\d{1,2}(?::\d\d)?\s*(?:am|pm|utc)?\b|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2})\b"
    r"(?:\s+(?!and\b|or\b|but\b)[a-z]+)?", re.I)


def _deadline_in_words(contacts: Sequence[Comment]) -> tuple[str | None, str | None]:
    """A deadline the stakes reader did not catch ("before the weekend promotion")."""
    for c in reversed(contacts):
        for s in sentences(own_words(c.body or "")):
            m = _BEFORE.search(s)
            if m:
                return m.group(0), s
    return None, None


def _deadline_sentence(contacts: Sequence[Comment], deadline: str | None) -> str | None:
    if not deadline:
        return None
    for c in reversed(contacts):
        for s in sentences(own_words(c.body or "")):
            if deadline.lower() in s.lower():
                return s
    return None


def note_facts(ticket: Ticket, enrichment: Enrichment | None, escalation: Escalation,
               clocks: Sequence[ClockState] | None, manifest: Any, now: datetime) -> NoteFacts:
    bots = frozenset(_bot_ids(manifest))
    contacts = _customer_comments(ticket, bots)
    moves, left = _before_this_move(ticket, escalation)
    owner_tier = (_find_tier(manifest, group_id=escalation.group_id)
                  if escalation.group_id is not None else None) or _find_tier(
        manifest, name=escalation.to_tier)
    owner_id = escalation.owner_id         # the assignee after the move (None: the group queue)
    people = _people(manifest)
    stakes = _stakes(contacts, ticket, enrichment, now)
    deadline = stakes.get("deadline")
    sentence = _deadline_sentence(contacts, deadline)
    if not deadline:
        deadline, sentence = _deadline_in_words(contacts)
    if not deadline and enrichment is not None:     # the risk reader saw a deadline in words
        for r in enrichment.risk_tags:
            if r.tag == "deadline" and r.phrase:
                comments = list(ticket.comments or ())
                c = comments[r.comment_index] if 0 <= r.comment_index < len(comments) else None
                text = c.body if c else ticket.description
                deadline = r.phrase
                whole = " ".join(own_words(text or "").split())
                sentence = whole if len(whole) <= 300 else sentence_with(text, r.phrase)
                break
    return NoteFacts(
        contacts=contacts, opened_at=ticket.created_at,
        tier_since=_tier_since(ticket, _moves(ticket), ticket.group_id),
        tier_label=_label(manifest, ticket.group_id), from_label=_label(manifest, left),
        owner_tier=owner_tier,
        owner_label=owner_tier.label if owner_tier else escalation.to_tier,
        owner_group_id=escalation.group_id, owner_id=owner_id,
        owner_name=people.get(owner_id) if owner_id is not None else None,
        approver=approver_for(enrichment, manifest, owner_tier, owner_id),
        handoffs=_handoffs(moves, manifest, bots),
        wants=_wants(contacts, ticket, enrichment),
        deadline=deadline, deadline_days=stakes.get("deadline_days"),
        deadline_sentence=sentence,
        stakes=stakes, clocks=tuple(clocks or ()))


def deadline_at(facts: NoteFacts, now: datetime) -> datetime | None:
    if facts.deadline_days is None:
        return None
    return now + timedelta(days=float(facts.deadline_days))


__all__ = ["NoteFacts", "Handoff", "Want", "note_facts", "deadline_at"]
