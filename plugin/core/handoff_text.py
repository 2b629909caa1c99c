"""Text and manifest helpers shared by the handoff modules (pure, no I/O).

Formatting: ``escape`` (quoted thread text -> one safe Markdown line), ``code``, ``clip``,
``quote``, spans and clock times, money. Manifest access is defensive (a ``Manifest`` or a plain
dict): tiers and teams (``TierInfo``), the people directory, the ``handoff`` settings, the bot
user ids, the currency, and template rendering with a fall back to the built-in template.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from tiergate.plugin.core.handoff_templates import DEFAULT_TEMPLATES
from tiergate.plugin.core.model import Comment
from tiergate.plugin.core.templates import TemplateError, compile_template, render

ZENDESK_COMMENT_LIMIT = 64 * 1024        # bytes of one comment body
BOT_USER_ID = 299
INCOMPLETE_TAG = "handoff_incomplete"
SUBJECT_CHARS = 300                        # of the subject a note shows
DEFAULT_REQUIRED = ("steps", "logs", "impact")
DEFAULT_NEXT_UPDATE_MINUTES = 240

_CHANNEL_NAMES = {"voice": "phone", "phone": "phone", "chat": "chat", "email": "email",
                  "web": "web form", "api": "API", "messaging": "messaging", "sms": "SMS"}



# -- small helpers ------------------------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _first(obj: Any, *names: str) -> Any:
    for name in names:
        value = _get(obj, name)
        if value is not None:
            return value
    return None


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;",
                          **{c: "\\" + c for c in "\\`*_[]#|~"}})


def escape(text: Any) -> str:
    """Quoted thread text -> one safe line: whitespace collapsed, HTML and Markdown neutralised."""
    return " ".join(str(text or "").split()).translate(_ESCAPES)


def code(text: Any) -> str:
    """A short token (error code, file name, URL, identifier) as a Markdown code span."""
    s = " ".join(str(text or "").split()).replace("`", "'")
    return f"`{s}`" if s else ""


def clip(text: str, n: int) -> str:
    """``text`` on one line, at most ``n`` characters (an ellipsis marks a cut); only its start is
    read, so a text of megabytes costs no more than a short one."""
    raw = (text or "").lstrip()
    head = " ".join(raw[: 4 * n + 64].split())
    if len(head) <= n and len(raw) <= 4 * n + 64:
        return head
    return head[: max(1, n - 1)].rstrip() + "…"


def quote(text: str, n: int) -> str:
    return f"\u201c{escape(clip(text, n))}\u201d"



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


_CACHE: dict[tuple[int, str], tuple[Any, tuple, Any]] = {}


def _memo(manifest: Any, key: str, build):
    """``build(manifest)`` once per manifest object (a plain dict is re-read when its
    top-level values change)."""
    parts = tuple(id(v) for v in manifest.values()) if isinstance(manifest, dict) else ()
    slot = (id(manifest), key)
    hit = _CACHE.get(slot)
    if hit is not None and hit[0] is manifest and hit[1] == parts:
        return hit[2]
    value = build(manifest)
    if len(_CACHE) > 64:
        _CACHE.clear()
    _CACHE[slot] = (manifest, parts, value)
    return value


def _tiers(manifest: Any) -> list[TierInfo]:
    if manifest is None:
        return []
    return _memo(manifest, "tiers", _read_tiers)


def _read_tiers(manifest: Any) -> list[TierInfo]:
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
    if manifest is None:
        return {}
    return _memo(manifest, "people", _read_people)


def _read_people(manifest: Any) -> dict[int, str]:
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
    if source == DEFAULT_TEMPLATES[default]:
        # our own template code: no ops-written loops to budget, so no line tracing
        return _tidy(compile_template(source).render(**context).strip())
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

