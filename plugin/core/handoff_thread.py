"""Reading the thread for a handoff: what was tried, errors and logs, promises, people affected.

Every function reads one ticket (comments oldest first; the description stands in when there
are none) and returns ``Item`` facts that keep where they came from (channel and author);
formatting and trimming happen when the note is rendered. Comments by tiergate's own helpdesk
user are skipped; text that merely looks like a tiergate marker proves nothing about its author.
Sources: agent comments with a past-tense action, customer "I already tried ..." sentences,
macros applied, ``#handoff steps: ..; logs: ..; impact: ..`` comments by agents, error codes,
log and stack lines, quoted error messages, files, URLs, attachments, public promises with
their due time, and counts of people affected.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from tiergate.plugin.core.handoff_text import (DEFAULT_REQUIRED, _channel, _get, clip, code,
                                               escape, quote)
from tiergate.plugin.core.commitments import COMMITMENT_RE, what as _promised
from tiergate.plugin.core.model import AGENT_ROLES, CUSTOMER_ROLES, Comment, Ticket, parse_time


@dataclass(frozen=True)
class Item:
    """One extracted fact with where it came from; formatted (clipped, escaped) only when the
    note is rendered, so trimming to the size limit never re-reads the thread."""

    raw: str             # as found in the thread (unescaped) or pre-formatted when style="pre"
    source: str          # "email, Ana" / "#1001, chat, customer"
    style: str = "quote"  # quote | code | url | plain | pre
    suffix: str = ""     # " attached", " (+12 more frames)"
    rank: int = 0        # evidence ordering: codes, error lines, stack, attachments, files, URLs

    def fmt(self, n: int) -> str:
        if self.style == "quote":
            text = quote(self.raw, n)
        elif self.style == "code":
            text = code(clip(self.raw, n))
        elif self.style == "url":
            text = code(clip(self.raw, max(n, 60)))
        elif self.style == "plain":
            text = escape(clip(self.raw, n * 2))
        else:
            text = self.raw
        return f"{text}{self.suffix} ({self.source})" if self.source else text + self.suffix


_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_FUTURE = re.compile(r"\b(will|'ll|going to|shall|plan to|let me|can you|could you|please)\b", re.I)
_TRIED = re.compile(
    r"\b(tried|restarted|rebooted|cleared|reset|re-?installed|checked|verified|confirmed|"
    r"reproduced|rolled back|re-?sent|updated|upgraded|downgraded|disabled|enabled|"
    r"whitelisted|allowlisted|flushed|re-?synced|walked (?:them|him|her|the customer) through|"
    r"ran|ruled out|tested|applied|regenerated|rotated|re-?issued|removed|re-?added|"
    r"escalated|looked into|investigated|reviewed)\b", re.I)
_CUSTOMER_TRIED = re.compile(r"\b(i|we)\b[^.!?\n]{0,30}\b(already |also )?(tried|cleared|restarted|"
                             r"rebooted|reinstalled|re-installed|reset|updated|switched)\b", re.I)
_MACRO_LINE = re.compile(r"^\s*(?:\[macro[:\s]+([^\]\n]+)\]|macro(?: applied)?:\s*(.+))\s*$",
                         re.I | re.M)
_HANDOFF_RE = re.compile(r"(?<![\w#])#handoff\b", re.I)

_ERROR_CODE = re.compile(
    r"\b(?:[A-Z][A-Z0-9]{1,11}[-_][A-Z0-9_]*\d[A-Z0-9_]*|ERR_[A-Z_]{3,}|E[0-9]{3,5}|"
    r"[A-Z]{2,8}\d{3,6}|0x[0-9A-Fa-f]{6,8})\b")
_HTTP_STATUS = re.compile(r"\b(?:HTTP|status|error|code)\s*:?\s*([45]\d\d)\b", re.I)
_URL = re.compile(r"\bhttps?://[^\s<>\"'`)\]]+", re.I)
_FILE = re.compile(r"[\w-][\w.-]{0,80}\.(?:log|txt|har|json|csv|xml|ya?ml|png|jpe?g|"
                   r"gif|pdf|zip|gz|tgz|dmp|mp4|mov|eml|msg|docx?|xlsx?)\b", re.I)
_STACK = re.compile(r"^\s*(?:at [\w$.<>/]+ ?[(:]|File \".+\", line \d+|Traceback \(most recent"
                    r"|[\w.]+(?:Exception|Error)(?::|\b)|Caused by:|#\d+\s+0x)")
_LOGLINE = re.compile(r"(?:^\s*\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d|^\s*(?:ERROR|FATAL|WARN(?:ING)?|"
                      r"CRITICAL|E/|\[error\]|panic:))", re.I)
_ERRWORD = re.compile(r"\b(error|exception|failed|failure|fatal|denied|refused|timed? ?out|"
                      r"invalid|unauthori[sz]ed|forbidden|not found|crash(?:ed)?)\b", re.I)
_QUOTED = re.compile(r"[\"\u201c\u2018']([^\"\u201d\u2019'\n]{6,200})[\"\u201d\u2019']")

_PROMISE = re.compile(
    r"\b(?:we(?:'| wi)ll|i(?:'| wi)ll|we are going to|i am going to|you(?:'| wi)ll (?:hear|receive|"
    r"get|have)|expect (?:an? )?(?:update|reply|answer|fix|call|response)|"
    r"(?:promise|commit) to)\b", re.I)
_COMMIT_MARKER = COMMITMENT_RE
_NUMWORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
             "twelve": 12, "24": 24, "48": 48}
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_BY_TIME = re.compile(r"\b(?:by|before|at|until)\s+(\d{1,2})(?::(\d\d))?\s*(am|pm)?\s*(utc|gmt)?\b",
                      re.I)
_WITHIN = re.compile(r"\b(?:within|in(?: the next)?)\s+(\d+|an?|one|two|three|four|five|six|twelve)"
                     r"\s*(minutes?|mins?|hours?|hrs?|h|business days?|days?)\b", re.I)
_DAYWORD = re.compile(r"\b(today|tonight|tomorrow|end of (?:the )?day|eod|cob|end of (?:the )?week|"
                      + "|".join(_WEEKDAYS) + r")\b", re.I)

_DAYPART = re.compile(r"\b(morning|noon|midday|lunchtime|afternoon|evening|tonight)\b", re.I)
_USERS = re.compile(r"\b(\d{1,3}(?:,\d{3})+|\d+)\s+(?:of (?:our|my) )?(?:\w+ ){0,2}?"
                    r"(users|people|employees|staff|agents|seats|customers|members|accounts|"
                    r"stores|shops|locations|sites|clinics|drivers|nurses|doctors|teachers|"
                    r"students|technicians|engineers|developers|reps|cashiers|branches|offices|"
                    r"warehouses|devices|terminals|tablets|machines)\b"
                    r"|\b(?:our|my|all|none of our|all of our) (\d{1,3}(?:,\d{3})+|\d+) [a-z]+s\b", re.I)
_ALL_USERS = re.compile(r"\b(?:all|every(?:one| one| user)|none) (?:of )?(?:our |my )?"
                        r"(?:users|staff|team|employees|agents|customers|company)\b|"
                        r"\b(?:production|prod|checkout|site|service|platform|system)\b"
                        r"[^.!?\n]{0,20}\b(?:is |are |went |has gone )?(?:down|offline|broken|outage)\b",
                        re.I)


def sentence_with(text: str | None, phrase: str) -> str | None:
    """The whole sentence of ``text`` that contains ``phrase`` (case-insensitive), if any."""
    needle = " ".join((phrase or "").split()).lower()
    if not needle:
        return None
    for s in _sentences(text or ""):
        if needle in " ".join(_TAGS.sub("", s).split()).lower():
            return _TAGS.sub("", s)
    return None


_TAGS = re.compile(r"</?[a-zA-Z][^<>]{0,80}>")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT_SPLIT.split(text or "") if s and s.strip()]


@dataclass(frozen=True)
class _Ctx:
    """How a comment is labelled: ticket prefix, bot ids, people directory."""

    prefix: str
    bots: frozenset[int]
    people: Mapping[int, str]


def _is_bot(c: Comment, ctx: _Ctx) -> bool:
    """tiergate's own comment: written by its helpdesk user. Marker text proves nothing (anyone
    can paste it), so a comment by someone else is read as theirs whatever it contains."""
    return c.author_id is not None and c.author_id in ctx.bots


def _is_customer(c: Comment, ticket: Ticket) -> bool:
    """Written by the requester or a CC (an end-user), never by tiergate or an agent."""
    role = (c.author_role or "").lower()
    if role in CUSTOMER_ROLES:
        return True
    return (role not in AGENT_ROLES and c.author_id is not None
            and c.author_id == ticket.requester_id)


def _who(c: Comment, ticket: Ticket, ctx: _Ctx) -> str:
    if _is_customer(c, ticket):
        return "customer"
    name = ctx.people.get(c.author_id) if c.author_id is not None else None
    if name:
        return escape(name.split()[0])
    return "agent" if c.author_role == "agent" else escape(c.author_role or "system")


def _source(c: Comment, ticket: Ticket, ctx: _Ctx) -> str:
    return ", ".join(p for p in (ctx.prefix, _channel(c), _who(c, ticket, ctx)) if p)


def _thread(ticket: Ticket) -> list[Comment]:
    """Comments oldest first; the description stands in when there are no comments."""
    comments = list(ticket.comments or ())
    if not comments and (ticket.description or "").strip():
        comments = [Comment(id=0, author_id=ticket.requester_id, author_role="end-user",
                            body=ticket.description, public=True, created_at=ticket.created_at,
                            channel=ticket.channel or "web")]
    return comments


def parse_handoff_comment(text: str, keys: Iterable[str] = DEFAULT_REQUIRED) -> dict[str, str]:
    """``#handoff steps: a, b; logs: x.log; impact: 40 users`` -> {"steps": .., "logs": ..,
    "impact": ..}. Keys are case-insensitive, ``:`` or ``=`` after a key, fields separated by
    ``;`` or new lines; aliases: tried/attempted -> steps, log/errors/error -> logs,
    affected/users -> impact. Empty values are dropped. No ``#handoff`` -> {}."""
    m = _HANDOFF_RE.search(text or "")
    if not m:
        return {}
    rest = text[m.end():]
    aliases = {"steps": "steps", "step": "steps", "tried": "steps", "attempted": "steps",
               "steps tried": "steps", "troubleshooting": "steps", "logs": "logs", "log": "logs",
               "errors": "logs", "error": "logs", "attachments": "logs", "impact": "impact",
               "affected": "impact", "users affected": "impact", "users": "impact"}
    for k in keys:
        aliases.setdefault(str(k).lower(), str(k).lower())
    names = sorted(aliases, key=len, reverse=True)
    key_re = re.compile(r"(?:^|[;\n]|\s)\s*(" + "|".join(re.escape(n) for n in names)
                        + r")\s*[:=]", re.I)
    found = list(key_re.finditer(rest))
    out: dict[str, str] = {}
    for i, km in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(rest)
        value = rest[km.end():end].strip().strip(";").strip()
        value = " ".join(value.split())
        if value:
            out[aliases[km.group(1).lower()]] = value
    return out


def _handoff_fields(ticket: Ticket, ctx: _Ctx, keys: Iterable[str],
                    sources: dict[str, str] | None = None) -> dict[str, str]:
    """Fields of the agents' ``#handoff`` comments (later comments win); ``sources`` receives
    where each came from ("#handoff by Ana")."""
    out: dict[str, str] = {}
    for c in _thread(ticket):
        if c.author_role == "agent" and not _is_bot(c, ctx):
            found = parse_handoff_comment(c.body, keys)
            out.update(found)
            if sources is not None:
                for key in found:
                    sources[key] = f"#handoff by {_who(c, ticket, ctx)}"
    return out


def _macros(ticket: Ticket, manifest: Any) -> list[str]:
    names = _get(manifest, "macros") or {}
    found: list[str] = []
    for ch in ticket.changes or ():
        if ch.field in ("macro", "macro_id", "macro_applied") and ch.new not in (None, ""):
            title = _get(names, str(ch.new)) if isinstance(names, Mapping) else None
            found.append(str(_get(title, "title") or title or ch.new))
    for c in ticket.comments or ():
        for m in _MACRO_LINE.finditer(c.body or ""):
            found.append((m.group(1) or m.group(2)).strip())
    for tag in ticket.tags or ():
        if tag.lower().startswith("macro_") and len(tag) > 6:
            found.append(tag[6:].replace("_", " "))
    seen: dict[str, str] = {}
    for f in found:
        seen.setdefault(f.lower(), f)
    return list(seen.values())


def _tried(ticket: Ticket, ctx: _Ctx) -> list[Item]:
    out: list[Item] = []
    for c in _thread(ticket):
        if _is_bot(c, ctx) or _HANDOFF_RE.search(c.body or ""):
            continue
        body = _MACRO_LINE.sub("", c.body or "")
        if c.author_role == "agent":
            for s in _sentences(body):
                if _TRIED.search(s) and not _FUTURE.search(s) and not s.endswith("?"):
                    out.append(Item(s, _source(c, ticket, ctx)))
        elif _is_customer(c, ticket):
            for s in _sentences(body):
                if _CUSTOMER_TRIED.search(s) and not s.endswith("?"):
                    out.append(Item(s, _source(c, ticket, ctx)))
    return out


_TOKEN = re.compile(r"[^\s<>\"'`()\[\]{}]+")
_MAX_LINES = 3         # error / log lines kept per comment
_MAX_FRAMES = 2        # stack frames kept per comment (the rest are counted)


def _evidence(ticket: Ticket, ctx: _Ctx, seen: set[str] | None = None) -> list[Item]:
    """Errors, logs, files and URLs of the thread, most useful first; ``seen`` (shared with a
    parent ticket's pass) drops repeats, and codes already inside a kept line are not repeated."""
    out: list[Item] = []
    seen = set() if seen is None else seen
    kept_lines: list[str] = []

    def add(key: str, item: Item) -> bool:
        k = key.lower()
        if k in seen or any(k in s for s in kept_lines):
            return False
        seen.add(k)
        if item.rank in (1, 2):
            kept_lines.append(k)
        out.append(item)
        return True

    for c in _thread(ticket):
        if _is_bot(c, ctx) or _HANDOFF_RE.search(c.body or ""):
            continue
        body = c.body or ""
        src = _source(c, ticket, ctx)
        n_lines, frames, extra_frames, last_frame = 0, 0, 0, None
        for ln in body.splitlines():
            stripped = ln.strip().lstrip(">").strip().strip("`").strip()
            if not stripped:
                continue
            if _STACK.search(stripped):
                if frames < _MAX_FRAMES:
                    if add(stripped, Item(stripped, src, "code", rank=2)):
                        frames += 1
                        last_frame = len(out) - 1
                else:
                    extra_frames += 1
            elif n_lines < _MAX_LINES and (_LOGLINE.search(stripped) or (
                    ln.lstrip().startswith((">", "`", "    ", "\t")) and _ERRWORD.search(stripped))):
                if add(stripped, Item(stripped, src, "code", rank=1)):
                    n_lines += 1
        if extra_frames and last_frame is not None:
            out[last_frame] = dataclasses.replace(out[last_frame],
                                                  suffix=f" (+{extra_frames} more frames)")
        for m in _QUOTED.finditer(body):
            if _ERRWORD.search(m.group(1)):
                add(m.group(1), Item(m.group(1), src, "code", rank=1))
        for m in _ERROR_CODE.finditer(body):
            add(m.group(0), Item(m.group(0), src, "code", rank=0))
        for m in _HTTP_STATUS.finditer(body):
            add("HTTP " + m.group(1), Item("HTTP " + m.group(1), src, "code", rank=0))
        for a in c.attachments or ():
            add(str(a), Item(str(a), src, "code", " attached", rank=3))
        urls = []
        for m in _URL.finditer(body):
            urls.append(m.group(0).rstrip(".,;:!?"))
        for tok in _TOKEN.findall(_URL.sub(" ", body)):
            tok = tok.strip(".,;:!?")
            if _FILE.fullmatch(tok):
                add(tok, Item(tok, src, "code", " mentioned", rank=4))
        for url in urls:
            add(url, Item(url, src, "url", rank=5))
    out.sort(key=lambda i: i.rank)
    return out


def _resolve_due(sentence: str, at: datetime | None) -> tuple[datetime | None, bool]:
    """(due instant, has a time of day) for a promise sentence written at ``at``."""
    if at is None:
        return None, False
    m = _WITHIN.search(sentence)
    if m:
        num = m.group(1).lower()
        qty = int(num) if num.isdigit() else _NUMWORDS.get(num, 1)
        unit = m.group(2).lower()
        if unit.startswith("m"):
            return at + timedelta(minutes=qty), True
        if unit.startswith("h"):
            return at + timedelta(hours=qty), True
        return _end_of(at.date() + timedelta(days=qty)), False
    day = at.date()
    dm = _DAYWORD.search(sentence)
    if dm:
        word = dm.group(1).lower()
        if word == "tomorrow":
            day = day + timedelta(days=1)
        elif word in _WEEKDAYS:
            ahead = (_WEEKDAYS.index(word) - day.weekday()) % 7 or 7
            day = day + timedelta(days=ahead)
        elif "week" in word:
            day = day + timedelta(days=(4 - day.weekday()) % 7)
    part = _DAYPART.search(sentence)
    tm = _BY_TIME.search(sentence)
    if part and not tm:
        hour = {"morning": 12, "noon": 12, "lunchtime": 12, "midday": 12, "afternoon": 17}.get(
            part.group(1).lower(), 23)
        return datetime(day.year, day.month, day.day, hour, 59 if hour == 23 else 0,
                        tzinfo=timezone.utc), hour != 23
    if tm:
        hour, minute = int(tm.group(1)), int(tm.group(2) or 0)
        ampm = (tm.group(3) or "").lower()
        if ampm == "pm" and hour < 12:
            hour += 12
        if ampm == "am" and hour == 12:
            hour = 0
        if hour > 23 or minute > 59 or (not ampm and not tm.group(2) and not tm.group(4)):
            tm = None
        else:
            due = datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)
            if due <= at and not dm:
                due += timedelta(days=1)
            return due, True
    if dm:
        return _end_of(day), False
    return None, False


def _end_of(day) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Promise:
    text: Item
    source: str
    due: datetime | None
    timed: bool


def _promises(ticket: Ticket, ctx: _Ctx) -> list[Promise]:
    out: list[Promise] = []
    for c in _thread(ticket):
        body = c.body or ""
        if not c.public:
            # tiergate records the promise of its public reply in its own private note
            if _is_bot(c, ctx):
                for kind, due_text in _COMMIT_MARKER.findall(body):
                    what = _promised(kind) or escape(kind)
                    out.append(Promise(Item(f"{what} (tiergate commitment)", "", "pre"),
                                       _source(c, ticket, ctx), parse_time(due_text), True))
            continue
        if c.author_role != "agent":
            continue
        for kind, due_text in _COMMIT_MARKER.findall(body):
            due = parse_time(due_text)
            what = _promised(kind) or escape(kind)
            out.append(Promise(Item(f"{what} (tiergate commitment)", "", "pre"),
                               _source(c, ticket, ctx), due, True))
        clean = _COMMIT_MARKER.sub("", re.sub(r"\[tiergate:[0-9a-f]+\]", "", body))
        for s in _sentences(clean):
            if _PROMISE.search(s) and not s.endswith("?"):
                due, timed = _resolve_due(s, c.created_at)
                out.append(Promise(Item(s, ""), _source(c, ticket, ctx), due, timed))
    return out


def _users_affected(ticket: Ticket, ctx: _Ctx, manifest: Any = None) -> Item | None:
    field = _get(_get(manifest, "helpdesk"), "users_affected_field") or "users_affected"
    org_fields = (ticket.organization.fields if ticket.organization else None) or {}
    for src in (ticket.custom_fields or {}, org_fields):
        for key in (field, "users_affected", "affected_users", "impacted_users"):
            if src.get(key) not in (None, ""):
                return Item(str(src[key]), "ticket field", "plain")
    for c in _thread(ticket):
        if _is_bot(c, ctx) or _HANDOFF_RE.search(c.body or ""):
            continue
        for s in _sentences(c.body or ""):
            m = _USERS.search(s) or _ALL_USERS.search(s)
            if m:
                return Item(_clause(s, m), _source(c, ticket, ctx))
    return None


def _clause(sentence: str, m: re.Match) -> str:
    """The part of ``sentence`` around match ``m`` between commas / semicolons / colons."""
    starts = [sentence.rfind(sep, 0, m.start()) for sep in (",", ";", ":", " - ")]
    start = max(starts) + 1
    ends = [i for i in (sentence.find(sep, m.end()) for sep in (",", ";", " - ")) if i != -1]
    end = min(ends) if ends else len(sentence)
    return sentence[start:end].strip().rstrip(".!")

