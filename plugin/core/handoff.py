"""Warm handoffs: the internal note a new owner reads once and can act on (issue 6).

Pure: no I/O, no clock reads (``now`` is passed in). Public API:

- ``handoff_note(ticket, enrichment, escalation, fired, clocks, manifest, now, *, parent=None,
  episode=None, limit=None) -> Note`` — the internal note addressed to the escalation's owner.
- ``warm_reply(ticket, escalation, clocks, manifest, now, *, template=None, episode=None,
  limit=None) -> Note | None`` — the optional public reply: who has the case now and when the
  next update comes; never a trigger, score, tag or any internal reason.
- ``handoff_notes(...)`` (same arguments as ``handoff_note``) -> the internal note, then the
  warm reply when the manifest enables it.
- ``authority_checks(enrichment, manifest, tier) -> tuple[AuthorityCheck, ...]`` and
  ``authority_note(ticket, enrichment, manifest, now, *, tier=None, template_within=None,
  template_above=None, limit=None) -> Note | None``.
- ``manual_escalation_update(ticket, enrichment, manifest, now, *, parent=None, clocks=None,
  limit=None) -> ManualHandoff`` — required context for group changes made by hand.
- ``parse_handoff_comment(text, keys=...) -> dict[str, str]`` — ``#handoff steps: ..; logs: ..``.
- ``fingerprint(ticket_id, trigger, to_tier, episode, kind="handoff") -> str`` and
  ``default_episode(ticket, escalation)``: how many times the ticket left the target group
  before (tiergate's own write never changes it, so a re-run yields the same fingerprint).

Manifest (read defensively from a ``Manifest`` or a plain dict): ``tiers`` / ``teams`` (name,
``label``, ``group_id``, ``owner_id`` or ``owner {id, name}``, optional ``owner_name``,
``public_name``, ``warm_reply``), ``authority`` (``currency``, ``limits[tier][kind]``,
``approvers[kind]``), ``helpdesk.bot_user_id`` (default 299), an optional people directory
(``agents`` / ``helpdesk.agents``: ``{id: name}``), and an optional ``handoff`` block:
``public_reply`` (false), ``required`` (["steps", "logs", "impact"]), ``next_update_minutes``
(240), ``comment_limit`` (65536 bytes), ``note_on_manual`` (true), ``currency``.

Templates (manifest ``templates``; built-ins in ``DEFAULT_TEMPLATES``, variables per template in
``TEMPLATE_VARIABLES``): ``handoff``, ``handoff_missing``, ``handoff_public``,
``authority_within``, ``authority_above``. The sandboxed renderer (``plugin.core.templates``)
gets every value quoted from the thread already escaped and as data only; a manifest template
that fails at render time falls back to the built-in one. Sections with nothing in them are
omitted; quoted material is trimmed until the body fits ``comment_limit``.

Where facts come from:
- what was tried: agent comments (not tiergate's) with a past-tense action ("restarted",
  "cleared", "I've checked ..."), customer sentences like "I already tried ...", macros applied
  (a ``Change`` whose field is ``macro``/``macro_id``/``macro_applied``, a ``macro_<name>`` tag,
  a comment line ``[macro: Name]`` or ``Macro applied: Name``), and ``#handoff steps:``;
- errors / logs: error codes (``AUTH-401``, ``ERR_CONN_RESET``, ``AADSTS50105``, ``HTTP 502``,
  ``0x80070005``), log and stack-trace lines, quoted error messages, file names, URLs,
  attachments (``Comment.attachments``) and ``#handoff logs:``;
- impact: a ``users_affected`` ticket/organization field (``helpdesk.users_affected_field``),
  "212 stores can't ...", "all our users ..." in the thread, ``#handoff impact:``;
- promises: public agent or tiergate comments with a commitment ("we'll update you by 14:00",
  "within 2 hours", "tomorrow morning") and tiergate's ``[tiergate-commitment:kind:due]``
  markers, each with its due time and OVERDUE when passed;
- channels: each excerpt names its channel (email, chat, phone, web form, API) and author;
- parent context: ``parent`` (the ticket named by ``via_followup_source_id``, ``problem_id``, or
  a "Request #N was closed and merged into this request" comment) adds its steps, errors and,
  for follow-ups, promises, marked ``#N``; without it the note links ``#N``;
- manual escalations: the latest ``Change(field="group_id")`` from one group to another whose
  author is not tiergate.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence

from tiergate.plugin.core.model import (ClockState, Comment, Enrichment, Escalation,
                                        FiredTrigger, Note, Ticket, TicketUpdate, parse_time)
from tiergate.plugin.core.templates import TemplateError, render

ZENDESK_COMMENT_LIMIT = 64 * 1024        # bytes of one comment body
BOT_USER_ID = 299
INCOMPLETE_TAG = "handoff_incomplete"
DEFAULT_REQUIRED = ("steps", "logs", "impact")
DEFAULT_NEXT_UPDATE_MINUTES = 240

_SECTION = (
    "{% macro section(title, items) %}{% if items %}\n\n**{{ title }}**\n"
    "{% for item in items %}- {{ item }}\n{% endfor %}{% endif %}{% endmacro %}"
)

DEFAULT_TEMPLATES: dict[str, str] = {
    "handoff": _SECTION + (
        "{{ owner_line }}\n\n"
        "**Summary:** {{ summary }}\n"
        "{{ section('Customer and impact', customer) }}"
        "{{ section('Why this came to you', reason) }}"
        "{{ section('Already tried', tried) }}"
        "{{ section('Errors, logs, attachments', evidence) }}"
        "{{ section('Promised to the customer', promises) }}"
        "{{ section('SLA', sla) }}"
        "{{ section('Risk signals', risk) }}"
        "{{ section('Authority', authority) }}"
        "{{ section('Conversation', thread) }}"
    ),
    "handoff_missing": (
        "{{ mention }}: this ticket moved to {{ to_tier }} without the context the next owner "
        "needs to act without asking the customer again. "
        "Missing: {{ missing_labels | join('; ') }}.\n\n"
        "Add it in one internal comment, for example:\n"
        "#handoff {% for key in missing %}{{ key }}: ...{% if not loop.last %}; {% endif %}"
        "{% endfor %}\n\n\n"
        "tiergate then removes the tag `{{ tag }}` and writes the full handoff note."
    ),
    "handoff_public": (
        "Hello,\n\n"
        "a quick update on your request: {{ owner_phrase }} {{ team }} has it now and already "
        "has the full history of this conversation, so there is no need to repeat anything. "
        "You will hear from us {{ next_update }}.\n\n"
        "Thank you for your patience."
    ),
    "authority_within": (
        "{{ mention }}: the {{ kind }} of {{ amount }} is within {{ tier }} authority "
        "(up to {{ limit }}). You may approve it now; no escalation is needed for it."
    ),
    "authority_above": (
        "{{ mention }}: the {{ kind }} of {{ amount }} is above {{ tier }} authority "
        "(up to {{ limit }}). It needs approval from {{ approver }}."
    ),
}

#: The variables each template receives (for the manifest check and for ops).
TEMPLATE_VARIABLES: dict[str, frozenset[str]] = {
    "handoff": frozenset({"owner_line", "owner", "summary", "customer", "reason", "tried",
                          "evidence", "promises", "sla", "risk", "authority", "thread",
                          "ticket", "escalation", "fingerprint"}),
    "handoff_missing": frozenset({"mention", "to_tier", "moved_by", "missing", "missing_labels",
                                  "tag", "ticket"}),
    "handoff_public": frozenset({"owner_phrase", "owner_first_name", "team", "next_update",
                                 "update_by", "ticket"}),
    "authority_within": frozenset({"mention", "kind", "amount", "limit", "tier", "approver"}),
    "authority_above": frozenset({"mention", "kind", "amount", "limit", "tier", "approver"}),
}

_CHANNEL_NAMES = {"voice": "phone", "phone": "phone", "chat": "chat", "email": "email",
                  "web": "web form", "api": "API", "messaging": "messaging", "sms": "SMS"}


# -- small helpers ------------------------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _first(obj: Any, *names: str) -> Any:
    for name in names:
        value = _get(obj, name)
        if value is not None:
            return value
    return None


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")


def escape(text: Any) -> str:
    """Quoted thread text -> one safe line: whitespace collapsed, HTML and Markdown neutralised."""
    s = " ".join(str(text or "").split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def code(text: Any) -> str:
    """A short token (error code, file name, URL, identifier) as a Markdown code span."""
    s = " ".join(str(text or "").split()).replace("`", "'")
    return f"`{s}`" if s else ""


def clip(text: str, n: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: max(1, n - 1)].rstrip() + "…"


def quote(text: str, n: int) -> str:
    return f"\u201c{escape(clip(text, n))}\u201d"


def fingerprint(ticket_id: Any, trigger: str, to_tier: str, episode: Any = 0,
                kind: str = "handoff") -> str:
    """Stable 16-hex hash of (ticket id, trigger, to_tier, episode[, kind])."""
    parts = [str(ticket_id), str(trigger), str(to_tier), str(episode)]
    if kind != "handoff":
        parts.append(kind)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _marker(fp: str) -> str:
    return f"[tiergate:{fp}]"


def _channel(c: Comment | None) -> str:
    if c is None:
        return "web form"
    return _CHANNEL_NAMES.get((c.channel or "web").lower(), escape(c.channel))


def _ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return ""
    return _span(now - at) + " ago" if at <= now else "in " + _span(at - now)


def _span(delta: timedelta) -> str:
    mins = int(abs(delta.total_seconds()) // 60)
    if mins < 60:
        return f"{mins} min"
    hours, mins = divmod(mins, 60)
    if hours < 48:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _minutes(m: float) -> str:
    return _span(timedelta(minutes=max(0.0, m)))


def _clock_time(at: datetime | None, now: datetime) -> str:
    if at is None:
        return ""
    at = at.astimezone(timezone.utc)
    if at.date() == now.astimezone(timezone.utc).date():
        return at.strftime("%H:%M UTC")
    return at.strftime("%a %b %d %H:%M UTC").replace(" 0", " ")


def _segment(seg: str) -> str:
    return "VIP" if seg.lower() == "vip" else escape(seg)


def _money(value: float, currency: str) -> str:
    return f"{currency}{value:,.2f}" if value != int(value) else f"{currency}{int(value):,}"


# -- manifest access (defensive: the manifest object may be a Manifest or a plain dict) -----------
@dataclass(frozen=True)
class TierInfo:
    name: str
    label: str
    group_id: int | None
    owner_id: int | None
    owner_name: str | None
    authority: Mapping[str, float]
    approver: str | None
    kind: str
    public_name: str | None
    warm_reply: bool | None
    order: int


def _items(container: Any) -> list[tuple[str, Any]]:
    if container is None:
        return []
    if isinstance(container, Mapping):
        return [(str(k), v) for k, v in container.items()]
    out = []
    for v in container:
        out.append((str(_first(v, "name", "id") or ""), v))
    return out


def _number_map(obj: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    if obj is None:
        return out
    items = obj.items() if isinstance(obj, Mapping) else (
        vars(obj).items() if hasattr(obj, "__dict__") else [])
    for k, v in items:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[str(k)] = float(v)
        elif _get(v, "limit") is not None:
            out[str(k)] = float(_get(v, "limit"))
    return out


_KINDS = {"tier": "hierarchical", "hierarchical": "hierarchical", "team": "functional",
          "functional": "functional"}


def _tier_info(name: str, obj: Any, kind: str, order: int) -> TierInfo:
    owner = _first(obj, "owner", "owner_id")
    owner_id = _get(owner, "id") if isinstance(owner, Mapping) or hasattr(owner, "id") else owner
    owner_name = _first(obj, "owner_name") or (_get(owner, "name") if not isinstance(owner, int)
                                               else None)
    authority = _first(obj, "authority", "authority_limits", "limits")
    return TierInfo(
        name=name or str(_get(obj, "name") or ""),
        label=str(_first(obj, "label", "title", "display_name") or name),
        group_id=_first(obj, "group_id", "group"),
        owner_id=owner_id if isinstance(owner_id, int) else None,
        owner_name=owner_name if isinstance(owner_name, str) else None,
        authority=_number_map(authority),
        approver=_first(obj, "approver", "approver_tier"),
        kind=_KINDS.get(str(_first(obj, "kind") or kind), kind),
        public_name=_first(obj, "public_name"),
        warm_reply=_first(obj, "warm_reply", "public_reply"),
        order=int(_first(obj, "level", "order") or order),
    )


def _tiers(manifest: Any) -> list[TierInfo]:
    tiers = _items(_get(manifest, "tiers"))
    out = [_tier_info(n, o, "hierarchical", i) for i, (n, o) in enumerate(tiers)]
    for key in ("teams", "functional"):
        out += [_tier_info(n, o, "functional", 1000 + i)
                for i, (n, o) in enumerate(_items(_get(manifest, key)))]
    return out


def _find_tier(manifest: Any, *, name: str | None = None,
               group_id: int | None = None) -> TierInfo | None:
    for t in _tiers(manifest):
        if name is not None and t.name == name:
            return t
    for t in _tiers(manifest):
        if group_id is not None and t.group_id == group_id:
            return t
    return None


def _people(manifest: Any) -> dict[int, str]:
    out: dict[int, str] = {}
    helpdesk = _get(manifest, "helpdesk")
    for container in (_get(manifest, "agents"), _get(manifest, "people"), _get(manifest, "users"),
                      _get(helpdesk, "agents"), _get(_settings(manifest), "agents")):
        if container is None:
            continue
        if isinstance(container, Mapping):
            for k, v in container.items():
                name = v if isinstance(v, str) else _get(v, "name")
                try:
                    out[int(k)] = str(name)
                except (TypeError, ValueError):
                    continue
        else:
            for v in container:
                if _get(v, "id") is not None and _get(v, "name"):
                    out[int(_get(v, "id"))] = str(_get(v, "name"))
    for t in _tiers(manifest):
        if t.owner_id is not None and t.owner_name and t.owner_id not in out:
            out[t.owner_id] = t.owner_name
    return out


def _settings(manifest: Any) -> Any:
    return _get(manifest, "handoff") or {}


def _required(manifest: Any) -> tuple[str, ...]:
    """The handoff essentials (manifest ``handoff.required``; default steps, logs, impact)."""
    req = _first(_settings(manifest), "required", "required_context") or DEFAULT_REQUIRED
    return tuple(str(r).lower() for r in req)


def _bot_ids(manifest: Any) -> set[int]:
    bot = (_first(_settings(manifest), "bot_user_id")
           or _get(_get(manifest, "helpdesk"), "bot_user_id")
           or _get(manifest, "bot_user_id") or BOT_USER_ID)
    return {int(bot)} if not isinstance(bot, (list, tuple)) else {int(b) for b in bot}


_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}


def _currency(manifest: Any) -> str:
    cur = (_first(_settings(manifest), "currency") or _get(_get(manifest, "authority"), "currency")
           or _get(manifest, "currency") or "USD")
    cur = str(cur)
    return _CURRENCY_SYMBOLS.get(cur.upper(), cur if len(cur) <= 1 else f"{cur} ")


def _template(manifest: Any, name: str, default: str) -> str:
    """The manifest's template ``name``, else the built-in ``DEFAULT_TEMPLATES[default]``."""
    templates = _get(manifest, "templates") or {}
    src = _get(templates, name)
    if src is not None and not isinstance(src, str):
        src = _first(src, "body", "source", "text", "template")
    if isinstance(src, str) and src.strip():
        return src
    return DEFAULT_TEMPLATES[default]


def _render(manifest: Any, name: str, context: Mapping[str, Any], default: str | None = None,
            public: bool = False) -> str:
    """Render the manifest's template ``name``; a template that fails at render time falls back
    to the built-in one (internal notes say so; public replies never show it)."""
    default = default or name
    source = _template(manifest, name, default)
    try:
        return _tidy(render(source, context))
    except TemplateError as exc:
        if source == DEFAULT_TEMPLATES[default]:
            raise
        body = _tidy(render(DEFAULT_TEMPLATES[default], context))
        if public:
            return body
        return (f"{body}\n\n_manifest template '{escape(name)}' failed "
                f"({type(exc).__name__}); default used_")


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _mention(manifest: Any, tier: TierInfo | None, owner_id: int | None, fallback: str) -> str:
    people = _people(manifest)
    name = people.get(owner_id) if owner_id is not None else None
    if name is None and tier is not None and tier.owner_id is not None and owner_id is None:
        name = people.get(tier.owner_id)
    label = tier.label if tier else fallback
    if name:
        return f"@{escape(name)} ({escape(label)})"
    if owner_id is not None:
        return f"@agent #{owner_id} ({escape(label)})"
    return f"@{escape(label)} team"


# -- reading the thread -------------------------------------------------------------------------
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
_COMMIT_MARKER = re.compile(r"\[tiergate-commitment:([a-z_]+):([0-9T:.+\-Z]+)\]")
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


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT_SPLIT.split(text or "") if s and s.strip()]


@dataclass(frozen=True)
class _Ctx:
    """How a comment is labelled: ticket prefix, bot ids, people directory."""

    prefix: str
    bots: frozenset[int]
    people: Mapping[int, str]


_OWN_MARK = re.compile(r"\[tiergate(?::|-commitment:)")


def _is_bot(c: Comment, ctx: _Ctx) -> bool:
    """tiergate's own comment: by its API user, or an agent comment carrying its marker (a
    customer quoting a marker is still the customer)."""
    if c.author_id in ctx.bots:
        return True
    return c.author_role == "agent" and bool(_OWN_MARK.search(c.body or ""))


def _is_customer(c: Comment, ticket: Ticket) -> bool:
    if c.author_role == "end-user":
        return True
    return c.author_role not in ("agent", "system") and c.author_id == ticket.requester_id


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
        if not c.public or c.author_role != "agent":
            continue
        body = c.body or ""
        for kind, due_text in _COMMIT_MARKER.findall(body):
            due = parse_time(due_text)
            what = {"ack": "an acknowledgement", "response": "a response"}.get(kind, escape(kind))
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


# -- sections -----------------------------------------------------------------------------------
_METRIC_NAMES = {"first_reply_time": "First reply", "next_reply_time": "Next reply",
                 "periodic_update_time": "Periodic update", "pausable_update_time": "Update",
                 "requester_wait_time": "Requester wait", "agent_work_time": "Agent work",
                 "resolution_time": "Resolution", "acknowledgement": "Promised acknowledgement",
                 "response_window": "Promised response"}


def _sla_lines(clocks: Sequence[ClockState], now: datetime) -> list[str]:
    def urgency(c: ClockState):
        return (not c.breached, c.paused, -c.pct_elapsed)

    lines = []
    for c in sorted(clocks or (), key=urgency):
        name = _METRIC_NAMES.get(c.metric, escape(c.metric.replace("_", " ")))
        unit = ", business hours" if c.business_hours else ""
        policy = f" ({escape(c.policy)})" if c.policy else ""
        if c.breached:
            over = c.elapsed_minutes - c.target_minutes
            lines.append(f"{name}{policy}: **BREACHED** {_minutes(over)} over "
                         f"(target {_minutes(c.target_minutes)}{unit})")
        elif c.paused:
            lines.append(f"{name}{policy}: paused, {_minutes(c.target_minutes - c.elapsed_minutes)}"
                         f" left of {_minutes(c.target_minutes)}{unit}")
        else:
            due = f", due {_clock_time(c.due_at, now)}" if c.due_at else ""
            lines.append(f"{name}{policy}: {_minutes(c.target_minutes - c.elapsed_minutes)} "
                         f"left of {_minutes(c.target_minutes)} ({c.pct_elapsed:.0f}% used{unit}){due}")
    return lines


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}" if abs(v) >= 1 else f"{v:.2f}"
    if isinstance(v, (list, tuple, set, frozenset)):
        return ", ".join(_fmt_value(x) for x in v) or "none"
    if isinstance(v, Mapping):
        return ", ".join(f"{k}={_fmt_value(x)}" for k, x in v.items())
    return str(v)


def _fmt_expected(expected: Any) -> str:
    """`` `2` (window_hours 24)`` for parametrised conditions, `` `vip` `` for plain ones."""
    if expected is None:
        return ""
    if isinstance(expected, Mapping) and "value" in expected:
        params = ", ".join(f"{escape(str(k).replace('_', ' '))} {escape(_fmt_value(v))}"
                           for k, v in expected.items() if k != "value")
        head = "" if expected["value"] is None else " " + code(_fmt_value(expected["value"]))
        return head + (f" ({params})" if params else "")
    return " " + code(_fmt_value(expected))


def _fired_list(fired: Any) -> list[FiredTrigger]:
    if fired is None:
        return []
    if isinstance(fired, FiredTrigger):
        return [fired]
    return [f for f in fired if isinstance(f, FiredTrigger)]


def _reason_lines(escalation: Escalation, fired: Any, manifest: Any, from_label: str,
                  to_label: str) -> list[str]:
    fired_all = _fired_list(fired)
    mine = [f for f in fired_all if f.name == escalation.trigger]
    route = f"{escape(from_label)} → {escape(to_label)}" if from_label else escape(to_label)
    kind = "functional" if escalation.kind == "functional" else "up the chain"
    lines = [f"Trigger {code(escalation.trigger)}: {route} ({kind})"]
    for f in mine[:1]:
        for cr in f.conditions:
            if not cr.held:
                continue
            op = cr.operator.replace("_", " ")
            expected = _fmt_expected(cr.expected)
            lines.append(f"{code(cr.field)} {escape(op)}{expected}: "
                         f"seen {code(_fmt_value(cr.actual))}")
    if escalation.after_hours:
        route_name = f" ({code(escalation.oncall_route)})" if escalation.oncall_route else ""
        lines.append(f"After hours: the team is closed, on-call paged{route_name}")
    others = [f.name for f in fired_all if f.name != escalation.trigger]
    if others:
        lines.append("Also fired: " + ", ".join(code(o) for o in others))
    return lines


def _sentiment_trend(values: Sequence[float], shift: float) -> str | None:
    if not values or len(values) < 2:
        return None
    shown = list(values)[-6:]
    arrow = " → ".join(f"{v:+.1f}" for v in shown)
    more = "… " if len(values) > len(shown) else ""
    if shift <= -0.2:
        word = "worsening"
    elif shift >= 0.2:
        word = "improving"
    else:
        word = "steady"
    return f"Sentiment {word} over {len(values)} customer messages: {more}{arrow}"


def _risk_lines(ticket: Ticket, enrichment: Enrichment | None, n: int) -> list[str]:
    if enrichment is None:
        return []
    lines: list[str] = []
    comments = list(ticket.comments or ())
    by_tag: dict[str, list[str]] = {}
    for r in enrichment.risk_tags:
        c = comments[r.comment_index] if 0 <= r.comment_index < len(comments) else None
        phrase = f"{quote(r.phrase, min(n, 60))} ({_channel(c)})"
        by_tag.setdefault(r.tag, [])
        if len(by_tag[r.tag]) < 2:
            by_tag[r.tag].append(phrase)
    if by_tag:
        lines.append("Risk tags: " + "; ".join(f"{code(t)} {', '.join(p)}"
                                               for t, p in by_tag.items()))
    top = sorted(enrichment.reasons, key=lambda r: -abs(r.points))[:3]
    detail = ", ".join(f"{escape(r.signal)} {r.points:+g}" for r in top)
    lines.append(f"Attention score {enrichment.attention_score}/100"
                 + (f" ({detail})" if detail else ""))
    trend = _sentiment_trend(enrichment.comment_sentiments, enrichment.sentiment_shift)
    if trend:
        lines.append(trend)
    elif enrichment.sentiment_label and enrichment.sentiment_label != "neutral":
        lines.append(f"Sentiment {escape(enrichment.sentiment_label)} ({enrichment.sentiment:+.2f})")
    if enrichment.complaint:
        lines.append("Reads as a complaint")
    if ticket.satisfaction == "bad":
        lines.append("Customer rated satisfaction **bad**")
    tags = [t for t in ticket.tags or ()
            if not t.startswith(("tg_", "macro_")) and t != INCOMPLETE_TAG]
    if tags:
        lines.append("Ticket tags: " + ", ".join(code(t) for t in tags[:8]))
    return lines


def _customer_lines(ticket: Ticket, now: datetime, users: str | None, impact: str | None,
                    currency: str) -> list[str]:
    lines: list[str] = []
    org = ticket.organization
    if org is not None:
        bits = [f"**{escape(org.name)}**"]
        if org.segment:
            bits.append(_segment(org.segment))
        if org.account_value:
            bits.append(f"{_money(org.account_value, currency)}/yr")
        if org.renewal_at is not None:
            days = (org.renewal_at - now).days
            when = org.renewal_at.strftime("%b %d").replace(" 0", " ")
            bits.append(f"renewal in {days} days ({when})" if days >= 0 else
                        f"renewal date passed {-days} days ago")
        lines.append(", ".join(bits))
    if users:
        lines.append(f"Users affected: {users}")
    if impact:
        lines.append(f"Impact: {impact}")
    return lines


# -- the handoff note ---------------------------------------------------------------------------
def default_episode(ticket: Ticket, escalation: Escalation) -> int:
    """How many times the ticket left the target group before: a new episode of the same
    escalation needs the ticket to have left it, and tiergate's own write never does."""
    if escalation.group_id is None:
        return 0
    return sum(1 for ch in ticket.changes or ()
               if ch.field == "group_id" and ch.old == escalation.group_id
               and ch.new != escalation.group_id)


def _parent_relation(ticket: Ticket) -> tuple[int | None, str]:
    if ticket.via_followup_source_id:
        return ticket.via_followup_source_id, "Follow-up of"
    for c in ticket.comments or ():
        m = re.search(r"(?:request|ticket) #(\d+) (?:was closed and )?merged into this", c.body or "",
                      re.I)
        if m:
            return int(m.group(1)), "Merged from"
    if ticket.problem_id:
        return ticket.problem_id, "Linked to problem"
    return None, ""


@dataclass
class _Parts:
    owner_line: str
    summary: str
    customer: list[str]
    reason: list[str]
    tried: list[str]
    evidence: list[str]
    promises: list[str]
    sla: list[str]
    risk: list[str]
    authority: list[str]
    thread: list[str]


def _extract(ticket: Ticket, manifest: Any, parent: Ticket | None) -> dict[str, Any]:
    """Everything read from the thread(s), once per note (formatting happens per trim level)."""
    bots = frozenset(_bot_ids(manifest))
    people = _people(manifest)
    ctx = _Ctx("", bots, people)
    pctx = _Ctx(f"#{parent.id}", bots, people) if parent is not None else None
    required = _required(manifest)
    sources: dict[str, str] = {}
    fields = _handoff_fields(ticket, ctx, required, sources)

    tried: list[Item] = []
    if fields.get("steps"):
        tried.append(Item(fields["steps"], sources["steps"], "plain"))
    macros = _macros(ticket, manifest)
    if macros:
        tried.append(Item("Macros applied: " + ", ".join(code(m) for m in macros[:6]), "", "pre"))
    tried += _tried(ticket, ctx)
    evidence: list[Item] = []
    if fields.get("logs"):
        evidence.append(Item(fields["logs"], sources["logs"], "plain", rank=-1))
    seen: set[str] = set()
    evidence += _evidence(ticket, ctx, seen)
    promises = _promises(ticket, ctx)
    users = _users_affected(ticket, ctx, manifest)
    if parent is not None and pctx is not None:
        tried += _tried(parent, pctx)
        evidence += _evidence(parent, pctx, seen)
        evidence.sort(key=lambda i: i.rank)
        if ticket.via_followup_source_id:
            promises = _promises(parent, pctx) + promises
        if users is None:
            users = _users_affected(parent, pctx, manifest)
    impact = Item(fields["impact"], sources["impact"], "plain") if fields.get("impact") else None
    return {"tried": tried, "evidence": evidence, "promises": promises, "users": users,
            "impact": impact,
            "customer_comments": [c for c in _thread(ticket) if _is_customer(c, ticket)]}


def _build(ticket: Ticket, enrichment: Enrichment | None, escalation: Escalation, fired: Any,
           clocks: Sequence[ClockState], manifest: Any, now: datetime, parent: Ticket | None,
           n: int, k: int, reason_override: list[str] | None = None,
           ex: dict[str, Any] | None = None) -> _Parts:
    ex = ex if ex is not None else _extract(ticket, manifest, parent)
    currency = _currency(manifest)

    to_tier = _find_tier(manifest, name=escalation.to_tier, group_id=escalation.group_id)
    from_tier = _find_tier(manifest, name=escalation.from_tier) if escalation.from_tier else None
    to_label = to_tier.label if to_tier else escalation.to_tier
    from_label = from_tier.label if from_tier else (escalation.from_tier or "")
    mention = _mention(manifest, to_tier, escalation.owner_id, escalation.to_tier)
    owner_line = (f"{mention}: you own this ticket from now on. Everything the customer has told "
                  f"us is below, so please don't ask them to repeat it.")
    parent_id, relation = _parent_relation(ticket)

    promise_lines = []
    for p in ex["promises"][-k:]:
        if p.due is None:
            when = "no deadline stated"
        elif p.due < now:
            when = f"**OVERDUE** since {_clock_time(p.due, now)} ({_ago(p.due, now)})"
        else:
            when = (f"due {_clock_time(p.due, now)} ({_ago(p.due, now)})" if p.timed
                    else f"due by end of {p.due.strftime('%a %b %d').replace(' 0', ' ')}")
        promise_lines.append(f"{p.text.fmt(n)} ({p.source}): {when}")

    customer = _customer_lines(ticket if ticket.organization or parent is None else parent, now,
                               ex["users"].fmt(n) if ex["users"] else None,
                               ex["impact"].fmt(n) if ex["impact"] else None, currency)

    # conversation: channels, first and latest customer words, parent link
    thread_lines: list[str] = []
    customer_comments = ex["customer_comments"]
    channels = list(dict.fromkeys(_channel(c) for c in customer_comments))
    if customer_comments:
        first = customer_comments[0]
        since = f" since {_clock_time(first.created_at, now)}" if first.created_at else ""
        thread_lines.append(f"{len(customer_comments)} customer message"
                            f"{'s' if len(customer_comments) != 1 else ''} via "
                            f"{', '.join(channels)}{since}")
        thread_lines.append(f"First ({_channel(first)}): {quote(first.body, n)}")
        if len(customer_comments) > 1:
            last = customer_comments[-1]
            thread_lines.append(f"Latest ({_channel(last)}, {_ago(last.created_at, now)}): "
                                f"{quote(last.body, n)}")
    if parent_id is not None:
        if parent is not None and parent.id == parent_id:
            thread_lines.append(f"{relation} #{parent.id} {quote(parent.subject, 80)} "
                                f"({escape(parent.status)}); its context is included above, "
                                f"marked #{parent.id}")
        else:
            thread_lines.append(f"{relation} #{parent_id} (open it for earlier context)")

    # authority
    current = _find_tier(manifest, group_id=ticket.group_id) or from_tier
    authority_lines = []
    if enrichment is not None and current is not None:
        for chk in authority_checks(enrichment, manifest, current.name):
            what = (f"{escape(chk.kind.capitalize())} of {_money(chk.amount, currency)} is "
                    f"{'within' if chk.within else 'above'} {escape(chk.tier_label)} authority "
                    f"(up to {_money(chk.limit, currency)})")
            if chk.within:
                authority_lines.append(f"{what}: {escape(chk.tier_label)} may approve it now")
            elif chk.approver == escalation.to_tier:
                own = _limit_for(manifest, to_tier, chk.kind) if to_tier else None
                cap = f" (yours: up to {_money(own, currency)})" if own is not None else ""
                authority_lines.append(f"{what}: you can approve it{cap}")
            else:
                authority_lines.append(f"{what}: needs approval from {chk.approver_mention}")

    # summary line
    bits = [escape(clip(ticket.subject or (ticket.description or ""), 90))]
    if ticket.organization is not None:
        seg = ticket.organization.segment
        bits.insert(0, escape(ticket.organization.name)
                    + (f" ({_segment(seg)})" if seg else "") + ":")
    facts = []
    if ticket.priority:
        facts.append(f"{escape(ticket.priority)} priority")
    if customer_comments:
        facts.append(f"{len(customer_comments)} contact{'s' if len(customer_comments) != 1 else ''}"
                     f" via {', '.join(channels)}")
    if ticket.created_at:
        facts.append(f"open {_span(now - ticket.created_at)}")
    summary = " ".join(bits) + (f" ({'; '.join(facts)})" if facts else "")

    reason = reason_override if reason_override is not None else _reason_lines(
        escalation, fired, manifest, from_label, to_label)

    return _Parts(owner_line, summary, customer, reason,
                  [i.fmt(n) for i in ex["tried"][:k]],
                  [i.fmt(n) for i in ex["evidence"][:k + 2]],
                  promise_lines, _sla_lines(clocks, now), _risk_lines(ticket, enrichment, n),
                  authority_lines, thread_lines)


_TRIM_LEVELS = ((200, 6), (140, 5), (90, 4), (50, 3), (30, 2))


def _limit(manifest: Any, limit: int | None) -> int:
    if limit is not None:
        return int(limit)
    return int(_first(_settings(manifest), "comment_limit", "max_bytes") or ZENDESK_COMMENT_LIMIT)


def _fit(body: str, marker: str, limit: int) -> str:
    """Body + marker line within ``limit`` UTF-8 bytes (the marker always survives)."""
    full = f"{body}\n\n{marker}"
    if len(full.encode()) <= limit:
        return full
    tail = f"\n… (trimmed to fit the comment size limit)\n\n{marker}"
    room = max(0, limit - len(tail.encode()))
    cut = body.encode()[:room].decode("utf-8", errors="ignore")
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return cut.rstrip() + tail


def _render_note(manifest: Any, name: str, make_context, fp: str, limit: int) -> str:
    marker = _marker(fp)
    body = ""
    for n, k in _TRIM_LEVELS:
        body = _render(manifest, name, make_context(n, k))
        if len((body + "\n\n" + marker).encode()) <= limit:
            break
    return _fit(body, marker, limit)


def handoff_note(ticket: Ticket, enrichment: Enrichment | None, escalation: Escalation,
                 fired: Sequence[FiredTrigger] | FiredTrigger | None,
                 clocks: Sequence[ClockState] | None, manifest: Any, now: datetime, *,
                 parent: Ticket | None = None, episode: Any = None,
                 limit: int | None = None) -> Note:
    """The internal handoff note for ``escalation`` (addressed to its one owner).

    ``fired``: the FiredTrigger of this escalation, or all triggers fired by the decision.
    ``episode``: decide's episode counter if it has one; default ``default_episode``.
    ``limit``: max body bytes (default manifest ``handoff.comment_limit`` or 64 KB)."""
    ep = default_episode(ticket, escalation) if episode is None else episode
    fp = fingerprint(ticket.id, escalation.trigger, escalation.to_tier, ep)
    return Note(body=_handoff_body(ticket, enrichment, escalation, fired, clocks or (), manifest,
                                   now, parent, fp, _limit(manifest, limit)),
                public=False, fingerprint=fp)


def _handoff_body(ticket, enrichment, escalation, fired, clocks, manifest, now, parent, fp,
                  limit, reason_override=None) -> str:
    ex = _extract(ticket, manifest, parent)

    def context(n: int, k: int) -> dict[str, Any]:
        p = _build(ticket, enrichment, escalation, fired, clocks, manifest, now, parent, n, k,
                   reason_override, ex)
        return {"owner_line": p.owner_line, "summary": p.summary, "customer": p.customer,
                "reason": p.reason, "tried": p.tried, "evidence": p.evidence,
                "promises": p.promises, "sla": p.sla, "risk": p.risk, "authority": p.authority,
                "thread": p.thread, "fingerprint": fp,
                "owner": {"mention": p.owner_line.split(":", 1)[0]},
                "ticket": {"id": ticket.id, "subject": escape(ticket.subject),
                           "priority": ticket.priority, "status": ticket.status},
                "escalation": {"trigger": escalation.trigger, "to_tier": escalation.to_tier,
                               "from_tier": escalation.from_tier, "kind": escalation.kind}}
    return _render_note(manifest, "handoff", context, fp, limit)


# -- warm public reply --------------------------------------------------------------------------
def _public_enabled(manifest: Any, tier: TierInfo | None) -> bool:
    if tier is not None and tier.warm_reply is not None:
        return bool(tier.warm_reply)
    return bool(_first(_settings(manifest), "public_reply", "warm_reply"))


def _public_team(tier: TierInfo | None, fallback: str) -> str:
    if tier is not None and tier.public_name:
        name = str(tier.public_name)
        return name if name.lower().startswith(("our ", "the ")) else f"our {name}"
    label = tier.label if tier else fallback
    label = re.sub(r"^\s*tier\s*\d+\s*[-:]?\s*", "", label, flags=re.I).strip() or "support"
    return f"our {label} team" if "team" not in label.lower() else f"our {label}"


def next_update_at(ticket: Ticket, clocks: Sequence[ClockState], manifest: Any,
                   now: datetime) -> datetime:
    """When the customer hears from us next: the earliest of the running reply/update clocks'
    due instants, an open promise, and ``handoff.next_update_minutes`` (default 4 h) from now."""
    default = now + timedelta(minutes=float(_first(_settings(manifest), "next_update_minutes")
                                            or DEFAULT_NEXT_UPDATE_MINUTES))
    candidates = [default]
    for c in clocks or ():
        if (c.metric in ("first_reply_time", "next_reply_time", "periodic_update_time",
                         "pausable_update_time", "acknowledgement", "response_window")
                and not c.paused and not c.breached and c.due_at and c.due_at > now):
            candidates.append(c.due_at)
    ctx = _Ctx("", frozenset(_bot_ids(manifest)), {})
    for p in _promises(ticket, ctx):
        if p.due is not None and p.timed and p.due > now:
            candidates.append(p.due)
    due = min(candidates)
    # round up to a quarter hour: a promise a person can keep
    extra = (-due.minute) % 15
    return (due + timedelta(minutes=extra)).replace(second=0, microsecond=0)


def warm_reply(ticket: Ticket, escalation: Escalation, clocks: Sequence[ClockState] | None,
               manifest: Any, now: datetime, *, template: str | None = None, episode: Any = None,
               limit: int | None = None) -> Note | None:
    """The optional public reply: sent when ``template`` (a manifest template name, e.g. an
    escalate action's ``public_template``) is given, or when the manifest enables it
    (``handoff.public_reply`` or the tier's ``warm_reply``) with template ``handoff_public``.
    Only the team's public name, the owner's first name and the next update time reach the
    template: never the trigger, scores, tags or any internal reason."""
    tier = _find_tier(manifest, name=escalation.to_tier, group_id=escalation.group_id)
    if template is None and not _public_enabled(manifest, tier):
        return None
    ep = default_episode(ticket, escalation) if episode is None else episode
    fp = fingerprint(ticket.id, escalation.trigger, escalation.to_tier, ep, kind="public")
    people = _people(manifest)
    owner_id = escalation.owner_id
    if owner_id is None and tier is not None:
        owner_id = tier.owner_id
    name = people.get(owner_id) if owner_id is not None else None
    first_name = escape(name.split()[0]) if name else ""
    team = escape(_public_team(tier, escalation.to_tier))
    due = next_update_at(ticket, clocks or (), manifest, now)
    when = due.strftime("%H:%M UTC")
    if due.date() != now.date():
        when = due.strftime("%A %H:%M UTC" if (due - now).days < 6 else "%b %d %H:%M UTC")
        next_update = f"by {when}"
    else:
        next_update = f"by {when} today"
    ctx = {"owner_phrase": f"{first_name} from" if first_name else "a specialist from",
           "owner_first_name": first_name, "team": team, "next_update": next_update,
           "update_by": next_update.removeprefix("by "), "ticket": {"id": ticket.id}}
    body = _render(manifest, template or "handoff_public", ctx, "handoff_public", public=True)
    return Note(body=_fit(body, _marker(fp), _limit(manifest, limit)), public=True, fingerprint=fp)


def handoff_notes(ticket: Ticket, enrichment: Enrichment | None, escalation: Escalation,
                  fired: Any, clocks: Sequence[ClockState] | None, manifest: Any, now: datetime, *,
                  parent: Ticket | None = None, episode: Any = None,
                  limit: int | None = None) -> tuple[Note, ...]:
    """The internal handoff note, then the warm public reply when the manifest enables it."""
    notes = [handoff_note(ticket, enrichment, escalation, fired, clocks, manifest, now,
                          parent=parent, episode=episode, limit=limit)]
    reply = warm_reply(ticket, escalation, clocks, manifest, now, episode=episode, limit=limit)
    if reply is not None:
        notes.append(reply)
    return tuple(notes)


# -- authority ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuthorityCheck:
    """One amount asked for, against the current tier's limit."""

    kind: str
    amount: float
    limit: float
    tier: str
    tier_label: str
    within: bool
    approver: str | None          # tier/team name that may approve (None when within)
    approver_mention: str         # "@Dee Manager (Management)" or "" when within


def _limit_for(manifest: Any, tier: TierInfo, kind: str) -> float | None:
    if kind in tier.authority:
        return tier.authority[kind]
    top = _get(manifest, "authority")
    if top is not None:
        limits = _get(top, "limits")
        per_tier = _get(limits if limits is not None else top, tier.name)
        if per_tier is not None:
            return _number_map(per_tier).get(kind)
    return None


def _approver(manifest: Any, tier: TierInfo, kind: str, amount: float) -> TierInfo | None:
    approvers = _get(manifest, "approvers") or _get(_get(manifest, "authority"), "approvers") or {}
    explicit = _get(approvers, kind) or tier.approver
    if explicit:
        found = _find_tier(manifest, name=str(explicit))
        if found is not None:
            return found
    ladder = sorted((t for t in _tiers(manifest) if t.kind == "hierarchical"),
                    key=lambda t: t.order)
    above = [t for t in ladder if t.order > tier.order]
    for t in above:
        lim = _limit_for(manifest, t, kind)
        if lim is not None and amount <= lim:
            return t
    return above[-1] if above else None


def authority_checks(enrichment: Enrichment, manifest: Any,
                     tier: str | None) -> tuple[AuthorityCheck, ...]:
    """Each amount in ``enrichment.amounts`` with a limit configured for ``tier``."""
    current = _find_tier(manifest, name=tier) if tier else None
    if current is None:
        return ()
    out = []
    for kind, amount in sorted((enrichment.amounts or {}).items()):
        lim = _limit_for(manifest, current, kind)
        if lim is None:
            continue
        within = float(amount) <= lim
        appr = None if within else _approver(manifest, current, kind, float(amount))
        mention = "" if within else (_mention(manifest, appr, appr.owner_id, appr.name) if appr
                                     else "a manager")
        out.append(AuthorityCheck(kind, float(amount), lim, current.name, current.label, within,
                                  appr.name if appr else None, mention))
    return tuple(out)


def authority_note(ticket: Ticket, enrichment: Enrichment, manifest: Any, now: datetime, *,
                   tier: str | None = None, template_within: str | None = None,
                   template_above: str | None = None, limit: int | None = None) -> Note | None:
    """Internal note for amounts asked for: within the current tier's limit -> "you may approve
    it now"; above -> names the approver. ``tier`` defaults to the tier of the ticket's group;
    ``template_within`` / ``template_above`` name manifest templates (defaults
    ``authority_within`` / ``authority_above``). None when no amount has a configured limit."""
    current = (_find_tier(manifest, name=tier) if tier else
               _find_tier(manifest, group_id=ticket.group_id))
    if current is None:
        return None
    checks = authority_checks(enrichment, manifest, current.name)
    if not checks:
        return None
    currency = _currency(manifest)
    mention = _mention(manifest, current, ticket.assignee_id, current.name)
    parts = []
    for chk in checks:
        default = "authority_within" if chk.within else "authority_above"
        name = (template_within if chk.within else template_above) or default
        parts.append(_render(manifest, name, {
            "mention": mention, "kind": escape(chk.kind), "amount": _money(chk.amount, currency),
            "limit": _money(chk.limit, currency), "tier": escape(chk.tier_label),
            "approver": chk.approver_mention}, default))
    key = ",".join(f"{c.kind}={c.amount:g}" for c in checks)
    fp = fingerprint(ticket.id, "authority", current.name, key, kind="authority")
    return Note(body=_fit("\n\n".join(parts), _marker(fp), _limit(manifest, limit)),
                public=False, fingerprint=fp)


# -- required context for manual escalations ----------------------------------------------------
@dataclass(frozen=True)
class ManualHandoff:
    """What tiergate adds after a group change made by hand (merge into the decision's update)."""

    notes: tuple[Note, ...] = ()
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.notes or self.add_tags or self.remove_tags)

    def to_update(self) -> TicketUpdate:
        return TicketUpdate(add_tags=self.add_tags, remove_tags=self.remove_tags, notes=self.notes)


_REQUIRED_LABELS = {"steps": "steps already tried", "logs": "logs or error messages",
                    "impact": "customer impact (who and how many users)"}


def missing_context(ticket: Ticket, manifest: Any, *,
                    parent: Ticket | None = None) -> tuple[str, ...]:
    """The required handoff fields (manifest ``handoff.required``, default steps, logs, impact)
    that neither the thread nor a ``#handoff`` comment provides."""
    ctx = _Ctx("", frozenset(_bot_ids(manifest)), {})
    required = _required(manifest)
    fields = _handoff_fields(ticket, ctx, required)
    threads = [ticket] + ([parent] if parent is not None else [])
    missing = []
    for key in required:
        if fields.get(key):
            continue
        if key == "steps" and (any(_tried(t, ctx) for t in threads) or _macros(ticket, manifest)):
            continue
        if key == "logs" and any(_evidence(t, ctx) for t in threads):
            continue
        if key == "impact" and any(_users_affected(t, ctx, manifest) for t in threads):
            continue
        missing.append(key)
    return tuple(missing)


def latest_manual_change(ticket: Ticket, manifest: Any):
    """The latest ``group_id`` change if a person (not tiergate) moved the ticket from one group
    to another; None otherwise (no change, tiergate's own, or first routing of an unassigned
    ticket, which is triage rather than a handoff)."""
    bots = _bot_ids(manifest)
    changes = [c for c in ticket.changes or () if c.field == "group_id"]
    if not changes:
        return None
    last = changes[-1]
    if (last.author_id is None or last.author_id in bots or last.new is None or last.old is None
            or last.old == last.new):
        return None
    return last


def manual_escalation_update(ticket: Ticket, enrichment: Enrichment | None, manifest: Any,
                             now: datetime, *, parent: Ticket | None = None,
                             clocks: Sequence[ClockState] | None = None,
                             limit: int | None = None) -> ManualHandoff:
    """Required context for a group change made by hand.

    Missing essentials -> an internal note listing them (once per manual change) and the tag
    ``handoff_incomplete``. Once they are there (thread or ``#handoff`` comment) while the tag
    is on the ticket -> remove the tag and write the completed handoff note (once). A manual
    change that had everything from the start gets the handoff note too (manifest
    ``handoff.note_on_manual``, default true)."""
    change = latest_manual_change(ticket, manifest)
    if change is None:
        return ManualHandoff()
    settings = _settings(manifest)
    to_tier = _find_tier(manifest, group_id=change.new)
    from_tier = _find_tier(manifest, group_id=change.old)
    to_name = to_tier.name if to_tier else f"group {change.new}"
    episode = change.at.isoformat() if change.at else f"{change.old}->{change.new}"
    missing = missing_context(ticket, manifest, parent=parent)
    people = _people(manifest)
    mover = people.get(change.author_id, f"agent #{change.author_id}")
    if missing:
        fp = fingerprint(ticket.id, "manual", to_name, episode, kind="missing")
        labels = [escape(_REQUIRED_LABELS.get(m, m)) for m in missing]
        body = _render(manifest, "handoff_missing", {
            "mention": f"@{escape(mover)}",
            "to_tier": escape(to_tier.label if to_tier else to_name), "moved_by": escape(mover),
            "missing": [escape(m) for m in missing], "missing_labels": labels,
            "tag": INCOMPLETE_TAG,
            "ticket": {"id": ticket.id}})
        note = Note(body=_fit(body, _marker(fp), _limit(manifest, limit)), public=False,
                    fingerprint=fp)
        return ManualHandoff(notes=(note,), add_tags=(INCOMPLETE_TAG,), missing=missing)
    was_incomplete = INCOMPLETE_TAG in (ticket.tags or ())
    if not was_incomplete and _first(settings, "note_on_manual") is False:
        return ManualHandoff()
    esc = Escalation(from_tier=from_tier.name if from_tier else None, to_tier=to_name,
                     kind=to_tier.kind if to_tier else "hierarchical", group_id=change.new,
                     owner_id=ticket.assignee_id if ticket.assignee_id is not None else
                     (to_tier.owner_id if to_tier else None), trigger="manual")
    route = (f"{escape(from_tier.label)} → " if from_tier else "") + escape(
        to_tier.label if to_tier else to_name)
    reason = [f"Moved by hand by {escape(mover)} {_ago(change.at, now)}: {route}"]
    fp = fingerprint(ticket.id, "manual", to_name, episode)
    body = _handoff_body(ticket, enrichment, esc, None, clocks or (), manifest, now, parent, fp,
                         _limit(manifest, limit), reason_override=reason)
    note = Note(body=body, public=False, fingerprint=fp)
    return ManualHandoff(notes=(note,), remove_tags=(INCOMPLETE_TAG,) if was_incomplete else ())


__all__ = ["handoff_note", "handoff_notes", "warm_reply", "next_update_at", "authority_checks",
           "authority_note", "AuthorityCheck", "manual_escalation_update", "ManualHandoff",
           "missing_context", "latest_manual_change", "parse_handoff_comment", "fingerprint",
           "default_episode", "escape", "DEFAULT_TEMPLATES", "TEMPLATE_VARIABLES",
           "ZENDESK_COMMENT_LIMIT", "INCOMPLETE_TAG", "DEFAULT_REQUIRED", "BOT_USER_ID"]
