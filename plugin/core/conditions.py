"""Trigger conditions: the field catalogue, operators per field type, and the compiler.

A condition is ``{"field": ..., "operator": ..., "value": ...}`` plus optional parameters
(``unit``/``calendar`` for times, ``window_hours`` for contact counts). Groups are
``{"all": [...], "any": [...]}`` like the helpdesk's own triggers (an empty ``any`` holds).

``compile_condition`` turns a validated condition into closures over a per-decision ``Facts``
object (``test``, ``actual`` for explanations, ``flip_at`` for timers) plus an equivalent inline
Python expression. ``compile_group`` / ``compile_all`` generate one function per trigger and one
per manifest that tests every trigger at once: each value a condition reads (``t.priority``, the
last customer comment instant, elapsed times...) is computed once at the top of that function and
shared by all triggers; the rest is plain comparisons. Only triggers that fire are re-evaluated
with ``explain`` to produce ``ConditionResult``s. Generated code only ever contains field
accessors from a fixed table and names bound to validated values (never manifest text).

Pure: no I/O, no clock reads; ``now`` comes with the facts.
"""
from __future__ import annotations

import math
import operator as _op
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence

from tiergate.plugin.core.model import ConditionResult, Enrichment, Ticket

# --------------------------------------------------------------------------------------------
# operators per type
# --------------------------------------------------------------------------------------------
EQ = ("is", "is_not", "in", "not_in")
CMP = ("less_than", "greater_than", "less_than_or_equal", "greater_than_or_equal")
PRESENCE = ("present", "not_present")
CHANGE = ("changed", "not_changed")

OPERATORS: dict[str, tuple[str, ...]] = {
    "enum": EQ + PRESENCE,
    "ordered": EQ + CMP + PRESENCE,            # priority, tier: compared by rank
    "string": EQ + ("contains", "not_contains") + PRESENCE,
    "id": EQ + PRESENCE,
    "set": ("includes", "includes_all", "not_includes", "is_empty", "is_not_empty"),
    "number": ("is", "is_not") + CMP + PRESENCE,
    "duration": CMP,
    "bool": ("is", "is_not"),
    "date": ("within", "not_within", "before", "after") + PRESENCE,
    "amount": ("is", "is_not") + CMP + ("within_authority", "above_authority") + PRESENCE,
    "any": EQ + CMP + ("contains", "not_contains") + PRESENCE,
}
AUDITED = {"status", "priority", "group_id", "assignee_id", "tier", "team"}
ALL_OPERATORS = tuple(sorted({o for ops in OPERATORS.values() for o in ops} | set(CHANGE)))
UNITS = {"minutes": 1.0, "hours": 60.0, "days": 1440.0,
         "business_minutes": 1.0, "business_hours": 60.0, "business_days": 1440.0}
NO_VALUE = {"present", "not_present", "is_empty", "is_not_empty", "within_authority",
            "above_authority"}
PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
TYPES = ("question", "incident", "problem", "task")
CHANNELS = ("web", "email", "chat", "voice", "api", "mobile", "sms", "social", "messaging",
            "any_channel")
try:
    from tiergate.plugin.core.sla_schema import COMMITMENT_METRICS, METRICS as _SLA_METRICS
    SLA_METRICS = tuple(_SLA_METRICS) + tuple(COMMITMENT_METRICS)
except ImportError:  # pragma: no cover - the sla module ships with the package
    SLA_METRICS = ("first_reply_time", "next_reply_time", "periodic_update_time",
                   "pausable_update_time", "requester_wait_time", "agent_work_time")
AMOUNT_KINDS = ("refund", "discount", "credit", "money")
SEGMENTS = ("vip", "enterprise", "smb", "midmarket", "startup", "public_sector")
_MISSING = object()
_STRICT = timedelta(seconds=1)     # timers for "greater_than" run this long after equality


# --------------------------------------------------------------------------------------------
# facts: what a decision knows about one ticket, computed lazily and at most once
# --------------------------------------------------------------------------------------------
class Facts:
    """Per-decision view of (ticket, enrichment, manifest, now); derived values are memoised."""

    __slots__ = ("ticket", "enrichment", "manifest", "now", "clocks", "_c")

    def __init__(self, ticket: Ticket, enrichment: Enrichment, manifest: Any, now: datetime,
                 clocks: Sequence[Any] | None = None):
        self.ticket = ticket
        self.enrichment = enrichment
        self.manifest = manifest
        self.now = now
        self.clocks = clocks           # tuple[ClockState] or a zero-argument callable
        self._c: dict[str, Any] = {}

    def memo(self, key: str, fn: Callable[["Facts"], Any]) -> Any:
        c = self._c
        v = c.get(key, _MISSING)
        if v is _MISSING:
            v = c[key] = fn(self)
        return v

    # -- derived ticket facts ---------------------------------------------------------------
    def sla_clocks(self) -> tuple:
        c = self.clocks
        if callable(c):
            c = self.clocks = tuple(c())
        return c or ()

    def position(self) -> tuple[str | None, str | None]:
        """(tier name, team name) owning the ticket's current group."""
        v = self._c.get("position")
        if v is None:
            v = self._c["position"] = _position(self.manifest, self.ticket.group_id)
        return v

    def risk_tags(self) -> tuple[str, ...]:
        v = self._c.get("risk_tags")
        if v is None:
            v = self._c["risk_tags"] = self.enrichment.tags
        return v

    def tier_start(self) -> datetime | None:
        return self.memo("tier_start", _tier_start)


def _tier_start(facts: "Facts") -> datetime | None:
    t = facts.ticket
    for ch in reversed(t.changes):
        if ch.field == "group_id" and ch.at is not None:
            return ch.at
    return t.created_at


def _position(manifest: Any, group_id: int | None) -> tuple[str | None, str | None]:
    index = getattr(manifest, "group_index", None) or {}
    hit = index.get(group_id)
    if hit is None:
        default = getattr(getattr(manifest, "helpdesk", None), "default_tier", None)
        return (default, None)
    kind, name = hit
    return (name, None) if kind == "tier" else (None, name)


def _last(t: Ticket, pred: Callable[[Any], bool]) -> datetime | None:
    for c in reversed(t.comments):
        if c.created_at is not None and pred(c):
            return c.created_at
    return None


def _is_customer(c) -> bool:
    return c.author_role == "end-user"


def _is_agent(c) -> bool:
    return c.author_role == "agent"


def _is_public(c) -> bool:
    return c.public


def _anchor_customer(f: Facts):
    return f.memo("last_customer", lambda x: _last(x.ticket, _is_customer) or x.ticket.created_at)


def _anchor_agent(f: Facts):
    return f.memo("last_agent", lambda x: _last(x.ticket, _is_agent) or x.ticket.created_at)


def _anchor_public(f: Facts):
    return f.memo("last_public", lambda x: _last(x.ticket, _is_public) or x.ticket.created_at)


def _anchor_status(f: Facts):
    def g(x: Facts):
        for ch in reversed(x.ticket.changes):
            if ch.field == "status" and ch.at is not None:
                return ch.at
        return x.ticket.created_at
    return f.memo("status_start", g)


def _reopen_count(f: Facts) -> int:
    def g(x: Facts):
        return sum(1 for ch in x.ticket.changes if ch.field == "status"
                   and ch.old in ("solved", "closed") and ch.new not in ("solved", "closed"))
    return f.memo("reopens", g)


def _handoffs(f: Facts) -> int:
    def g(x: Facts):
        return sum(1 for ch in x.ticket.changes if ch.field == "group_id" and ch.old is not None
                   and ch.old != ch.new)
    return f.memo("handoffs", g)


def _customer_contacts(window_minutes: float) -> Callable[[Facts], int]:
    key = f"contacts:{window_minutes}"

    def g(x: Facts) -> int:
        since = x.now - timedelta(minutes=window_minutes)
        t = x.ticket
        auto = set(x.enrichment.auto_replies)
        settled = x.enrichment.settled_at
        n = sum(1 for i, c in enumerate(t.comments) if c.author_role == "end-user"
                and c.created_at is not None and c.created_at >= since and i not in auto
                and (settled is None or i > settled))
        if not t.comments and t.created_at is not None and t.created_at >= since:
            n = 1                                   # the description is the first contact
        return n

    return lambda f: f.memo(key, g)


def _changed_within(field: str, minutes: float | None) -> Callable[[Facts], bool]:
    audited = "group_id" if field in ("tier", "team") else field

    def g(f: Facts) -> bool:
        since = None if minutes is None else f.now - timedelta(minutes=minutes)
        for ch in reversed(f.ticket.changes):
            if ch.field == audited and ch.old != ch.new:
                return since is None or (ch.at is not None and ch.at >= since)
        return False
    return g


def _org(f: Facts):
    return f.ticket.organization


def _renewal_days(f: Facts) -> float | None:
    o = f.ticket.organization
    if o is None or o.renewal_at is None:
        return None
    return (o.renewal_at - f.now).total_seconds() / 86400.0


def _clock(f: Facts, metric: str):
    for c in f.sla_clocks():
        if c.metric == metric:
            return c
    return None


def _custom(name: str) -> Callable[[Facts], Any]:
    def g(f: Facts):
        cf = f.ticket.custom_fields
        v = cf.get(name)
        if v is None and f.ticket.organization is not None:
            v = f.ticket.organization.fields.get(name)
        return v
    return g


def _users_affected(f: Facts):
    name = getattr(getattr(f.manifest, "helpdesk", None), "users_affected_field", "users_affected")
    v = _custom(name)(f)
    try:
        return None if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return None


def _authority_limit(manifest: Any, tier: str | None, kind: str) -> float | None:
    """The most the given tier may approve for ``kind`` (None: no authority at all)."""
    auth = getattr(manifest, "authority", None)
    if auth is None or tier is None:
        return None
    limits = auth.limits.get(tier)
    return None if limits is None else limits.get(kind)


def calendar_for(manifest: Any, name: str | None, facts: Facts | None = None):
    """Calendar object named ``name``; else the current owner's; else the manifest default."""
    cals = getattr(manifest, "calendars", None) or {}
    if name is None and facts is not None:
        tier, team = facts.position()
        owner = (manifest.tiers.get(tier) if tier else None) or \
                (manifest.teams.get(team) if team else None)
        name = getattr(owner, "calendar", None)
    if name is None:
        name = getattr(getattr(manifest, "helpdesk", None), "default_calendar", None)
    cal = cals.get(name) if name else None
    if cal is None:
        from tiergate.plugin.core.calendar import ALWAYS_OPEN
        return ALWAYS_OPEN
    return cal


# --------------------------------------------------------------------------------------------
# the field catalogue
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldSpec:
    """A condition field: its type, how to read it, and (for times) its anchor instant."""

    name: str
    type: str
    doc: str
    get: Callable[[Facts], Any] | None = None
    values: tuple[str, ...] | None = None     # allowed values for enum / ordered
    anchor: Callable[[Facts], datetime | None] | None = None   # duration: counted since
    params: tuple[str, ...] = ()

    @property
    def operators(self) -> tuple[str, ...]:
        ops = OPERATORS[self.type]
        return ops + CHANGE if self.name in AUDITED else ops


def _t(attr: str) -> Callable[[Facts], Any]:
    return lambda f: getattr(f.ticket, attr)


def _e(attr: str) -> Callable[[Facts], Any]:
    return lambda f: getattr(f.enrichment, attr)


def _o(attr: str) -> Callable[[Facts], Any]:
    def g(f: Facts):
        o = f.ticket.organization
        return None if o is None else getattr(o, attr)
    return g


def _vip(f: Facts) -> bool:
    o = f.ticket.organization
    return o is not None and (o.segment == "vip" or "vip" in o.tags)


def _max_pct(f: Facts):
    cl = [c.pct_elapsed for c in f.sla_clocks() if not c.paused]
    return max(cl) if cl else None


def _any_breached(f: Facts) -> bool:
    return any(c.breached for c in f.sla_clocks())


def _money(f: Facts):
    values = [v for v in f.enrichment.amounts.values() if v]
    if f.enrichment.stakes.get("money"):
        values.append(f.enrichment.stakes["money"])
    return max(values) if values else None


def _sentiment_shift(f: Facts):
    return f.enrichment.sentiment_shift


_STATIC: dict[str, FieldSpec] = {s.name: s for s in [
    # ticket fields
    FieldSpec("status", "enum", "Ticket status.", _t("status"), STATUSES),
    FieldSpec("priority", "ordered", "Ticket priority (ordered low < normal < high < urgent).",
              _t("priority"), PRIORITIES),
    FieldSpec("type", "enum", "Ticket type.", _t("type"), TYPES),
    FieldSpec("channel", "enum", "Channel the ticket came in by.", _t("channel"), CHANNELS),
    FieldSpec("group_id", "id", "Helpdesk group id.", _t("group_id")),
    FieldSpec("assignee_id", "id", "Assigned agent id (null: unassigned).", _t("assignee_id")),
    FieldSpec("requester_id", "id", "Requester user id.", _t("requester_id")),
    FieldSpec("organization_id", "id", "Organization id.", _t("organization_id")),
    FieldSpec("tags", "set", "Ticket tags.", _t("tags")),
    FieldSpec("subject", "string", "Ticket subject.", _t("subject")),
    FieldSpec("satisfaction", "enum", "Satisfaction rating.", _t("satisfaction"),
              ("good", "bad", "offered", "unoffered")),
    FieldSpec("tier", "ordered", "Current tier (from the group), ordered by tier order; "
              "value: a tier name.", lambda f: f.position()[0]),
    FieldSpec("team", "enum", "Current functional team (from the group); value: a team name.",
              lambda f: f.position()[1]),
    # times
    FieldSpec("age", "duration", "Time since the ticket was created.",
              anchor=lambda f: f.ticket.created_at, params=("unit", "calendar")),
    FieldSpec("since_customer_update", "duration", "Time since the customer last wrote.",
              anchor=_anchor_customer, params=("unit", "calendar")),
    FieldSpec("since_agent_update", "duration", "Time since an agent last wrote (any comment).",
              anchor=_anchor_agent, params=("unit", "calendar")),
    FieldSpec("since_public_update", "duration", "Time since the last public comment.",
              anchor=_anchor_public, params=("unit", "calendar")),
    FieldSpec("since_update", "duration", "Time since the ticket was last updated.",
              anchor=lambda f: f.ticket.updated_at or f.ticket.created_at,
              params=("unit", "calendar")),
    FieldSpec("time_in_tier", "duration", "Time since the ticket entered its current group.",
              anchor=lambda f: f.tier_start(), params=("unit", "calendar")),
    FieldSpec("time_in_status", "duration", "Time since the status last changed.",
              anchor=_anchor_status, params=("unit", "calendar")),
    # history
    FieldSpec("reopen_count", "number", "Times the ticket was reopened after solved.",
              _reopen_count),
    FieldSpec("handoffs", "number", "Times the ticket moved between groups.", _handoffs),
    FieldSpec("customer_contacts", "number", "Customer comments in the last `window_hours` "
              "hours (default 24): frequent contact in a short timeframe.",
              params=("window_hours",)),
    FieldSpec("comment_count", "number", "Number of comments.", lambda f: len(f.ticket.comments)),
    # enrichment
    FieldSpec("risk_tags", "set", "Risk tags found by the NLP enricher.",
              lambda f: f.risk_tags()),
    FieldSpec("sentiment", "number", "Conversation sentiment -1..1.", _e("sentiment")),
    FieldSpec("sentiment_label", "enum", "Conversation sentiment label.", _e("sentiment_label"),
              ("negative", "neutral", "positive")),
    FieldSpec("sentiment_shift", "number", "Last customer comment's sentiment minus the first "
              "(negative: getting worse).", _sentiment_shift),
    FieldSpec("latest_sentiment", "number", "Sentiment -1..1 of the customer's latest comment "
              "(the conversation's when there is none).",
              lambda f: (f.enrichment.comment_sentiments or (f.enrichment.sentiment,))[-1]),
    FieldSpec("attention_score", "number", "Attention score 0..100.", _e("attention_score")),
    FieldSpec("model_score", "number", "Trained model probability 0..1 (null: no model).",
              _e("model_score")),
    FieldSpec("complaint", "bool", "The conversation is a complaint.", _e("complaint")),
    FieldSpec("language", "string", "Language of the customer's words (ISO 639-1; und: "
              "undetermined).", _e("language")),
    FieldSpec("language_supported", "bool", "The risk detector reads the customer's language.",
              _e("language_supported")),
    FieldSpec("closing", "bool", "The latest customer message closes the matter (thanks, "
              "it works, you can close this).", _e("closing")),
    FieldSpec("impact.people", "number", "People, seats or sites the customer says are "
              "affected (null: not said).", lambda f: f.enrichment.stakes.get("people")),
    FieldSpec("impact.everyone", "bool", "The customer says the whole company / every site / "
              "nobody can work.", lambda f: bool(f.enrichment.stakes.get("everyone"))),
    FieldSpec("contacts_stated", "number", "Which contact the customer says this is (\"my "
              "third ticket\", \"emailed you 4 times\"; null: not stated).",
              lambda f: (f.enrichment.stakes or {}).get("contacts_stated")),
    FieldSpec("deadline_days", "number", "Days to the deadline the customer states (null: "
              "none).", lambda f: f.enrichment.stakes.get("deadline_days")),
    # customer
    FieldSpec("organization.segment", "enum", "Organization segment.", _o("segment"), SEGMENTS),
    FieldSpec("organization.vip", "bool", "Segment is vip or the organization is tagged vip.",
              _vip),
    FieldSpec("organization.account_value", "number", "Yearly contract value.",
              _o("account_value")),
    FieldSpec("organization.renewal", "date", "Contract renewal date; `within` N days ahead.",
              _o("renewal_at")),
    FieldSpec("organization.renewal_in_days", "number", "Days until renewal (null: unknown).",
              _renewal_days),
    FieldSpec("organization.tags", "set", "Organization tags.",
              lambda f: () if f.ticket.organization is None else f.ticket.organization.tags),
    FieldSpec("organization.name", "string", "Organization name.", _o("name")),
    FieldSpec("users_affected", "number", "Users affected (the custom field named by "
              "helpdesk.users_affected_field).", _users_affected),
    # SLA
    FieldSpec("sla.max_pct_elapsed", "number", "Highest % of target elapsed over running clocks.",
              _max_pct),
    FieldSpec("sla.any_breached", "bool", "Any SLA clock breached.", _any_breached),
    # clock
    FieldSpec("clock.business_hours", "bool", "Now is inside business hours of `calendar` "
              "(default: the current owner's calendar).", params=("calendar",)),
]}

_SLA_SUFFIX = {"pct_elapsed": "number", "breached": "bool", "remaining_minutes": "number",
               "paused": "bool"}


def field_spec(name: str) -> FieldSpec | None:
    """Look a field up, including the pattern families custom.*, sla.<metric>.*, amount.*."""
    spec = _STATIC.get(name)
    if spec is not None:
        return spec
    if name.startswith("custom.") and len(name) > 7:
        return FieldSpec(name, "any", "Ticket custom field (or organization field) value.",
                         _custom(name[7:]))
    if name.startswith("amount."):
        kind = name[7:]
        if kind == "money":
            return FieldSpec(name, "amount", "The largest amount of money the customer names, "
                             "in any phrasing.", _money, params=("tier",))
        if kind in AMOUNT_KINDS:
            return FieldSpec(name, "amount", f"The {kind} amount the customer asks for.",
                             lambda f, k=kind: f.enrichment.amounts.get(k), params=("tier",))
        return None
    if name.startswith("sla."):
        parts = name.split(".")
        if len(parts) == 3 and parts[2] in _SLA_SUFFIX and parts[1] in SLA_METRICS:
            metric, attr = parts[1], parts[2]
            return FieldSpec(name, _SLA_SUFFIX[attr], f"SLA clock {metric}: {attr}.",
                             _sla_getter(metric, attr))
    return None


def _sla_getter(metric: str, attr: str):
    def g(f: Facts):
        c = _clock(f, metric)
        if c is None:
            return False if attr == "breached" else None
        if attr == "remaining_minutes":
            return c.target_minutes - c.elapsed_minutes
        return getattr(c, attr)
    return g


def field_names() -> list[str]:
    """Every field name, with the pattern families written as templates."""
    return sorted(_STATIC) + ["custom.<name>", "amount.<refund|discount|credit>",
                              "sla.<metric>.pct_elapsed", "sla.<metric>.breached",
                              "sla.<metric>.remaining_minutes", "sla.<metric>.paused",
                              "(metrics: " + ", ".join(SLA_METRICS) + ")"]


# --------------------------------------------------------------------------------------------
# static validation (used by the manifest schema)
# --------------------------------------------------------------------------------------------
def validate_condition(cond: Mapping[str, Any]) -> dict[str, str]:
    """Errors of one condition keyed by its key name ("field", "operator", "value", ...)."""
    errors: dict[str, str] = {}
    name = cond.get("field")
    spec = field_spec(name) if isinstance(name, str) else None
    if spec is None:
        errors["field"] = (f"unknown field {name!r}; allowed: " + ", ".join(field_names()))
        return errors
    op = cond.get("operator")
    if op not in spec.operators:
        errors["operator"] = (f"operator {op!r} is not allowed for field '{name}' (type "
                              f"{spec.type}); allowed: {', '.join(spec.operators)}")
        return errors
    for key in ("unit", "calendar", "window_hours", "tier"):
        if key in cond and key not in spec.params:
            allowed = ", ".join(spec.params) or "none"
            errors[key] = f"parameter '{key}' does not apply to field '{name}' (allowed: {allowed})"
    if "unit" in cond and cond["unit"] not in UNITS:
        errors["unit"] = f"unknown unit {cond['unit']!r}; allowed: {', '.join(UNITS)}"
    if "window_hours" in cond and not _is_num(cond["window_hours"]):
        errors["window_hours"] = "must be a positive number of hours"
    elif "window_hours" in cond and cond["window_hours"] <= 0:
        errors["window_hours"] = "must be a positive number of hours"
    msg = _value_error(spec, op, cond.get("value", _MISSING))
    if msg:
        errors["value"] = msg
    return errors


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _value_error(spec: FieldSpec, op: str, value: Any) -> str | None:
    if op in NO_VALUE:
        if op in ("within_authority", "above_authority"):
            if value is not _MISSING and value is not None:
                return f"'{op}' takes no value (use the `tier` parameter to name a tier)"
            return None
        return None if value is _MISSING or value is None else f"'{op}' takes no value"
    if value is _MISSING:
        return f"required for operator '{op}'"
    if op in CHANGE:
        if value is True or (_is_num(value) and value > 0):
            return None
        return "must be true (ever) or a positive number of hours (changed within)"
    t = spec.type
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            return f"'{op}' needs a non-empty list"
        for v in value:
            m = _scalar_error(spec, v)
            if m:
                return m
        return None
    if t == "set":
        if isinstance(value, str) and value:
            return None
        if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            return None
        return "must be a tag or a non-empty list of tags"
    if t in ("number", "duration", "amount"):
        if not _is_num(value):
            return f"must be a number, got {type(value).__name__}"
        if t == "duration" and value < 0:
            return "must not be negative"
        return None
    if t == "date":
        if not _is_num(value):
            return "must be a number of days"
        return None
    if t == "any" and op in CMP:
        return None if _is_num(value) else "must be a number for a comparison"
    if op in ("contains", "not_contains"):
        return None if isinstance(value, str) and value else "must be a non-empty string"
    return _scalar_error(spec, value)


def _scalar_error(spec: FieldSpec, v: Any) -> str | None:
    t = spec.type
    if t == "bool":
        return None if isinstance(v, bool) else "must be true or false"
    if t in ("enum", "ordered") and spec.values is not None:
        if v not in spec.values:
            return f"unknown value {v!r}; allowed: {', '.join(spec.values)}"
        return None
    if t in ("enum", "ordered", "string"):       # tier / team names are checked by the manifest
        return None if isinstance(v, str) and v else "must be a non-empty string"
    if t == "id":
        return None if (isinstance(v, int) and not isinstance(v, bool)) or v is None \
            else "must be an integer id or null"
    if t in ("number", "amount"):
        return None if _is_num(v) else "must be a number"
    if t == "any":
        return None if v is None or isinstance(v, (str, int, float, bool)) else \
            "must be a string, number, boolean or null"
    return None


# --------------------------------------------------------------------------------------------
# compilation
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Compiled:
    """One compiled condition: ``test(facts) -> bool``; ``actual(facts)`` for explanations;
    ``flip_at(facts)`` the next instant its truth may change by time alone (or None)."""

    path: str
    field: str
    operator: str
    expected: Any
    test: Callable[[Facts], bool]
    actual: Callable[[Facts], Any]
    flip_at: Callable[[Facts], datetime | None] | None = None
    source: str = ""                      # inline Python expression over f, t, e, now
    bindings: Mapping[str, Any] = field(default_factory=dict)

    def result(self, f: Facts) -> ConditionResult:
        return ConditionResult(self.path, self.field, self.operator, self.expected,
                               _jsonable(self.actual(f)), bool(self.test(f)))


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 2)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, (tuple, frozenset, set)):
        return list(v)
    return v


_CMP = {"less_than": _op.lt, "greater_than": _op.gt, "less_than_or_equal": _op.le,
        "greater_than_or_equal": _op.ge}


def compile_condition(cond: Mapping[str, Any], path: str, manifest: Any) -> Compiled:
    """One validated condition -> closures. ``manifest`` gives tiers, calendars and authority."""
    name, op = cond["field"], cond["operator"]
    value = cond.get("value")
    spec = field_spec(name)
    assert spec is not None, name
    get = spec.get
    flip = None
    expected: Any = value

    if spec.type == "duration":
        unit = cond.get("unit", "hours")
        minutes = float(value) * UNITS[unit]
        anchor = spec.anchor
        cal_name = cond.get("calendar")
        scale = UNITS[unit]
        if unit.startswith("business_"):
            def get(f, anchor=anchor):
                a = anchor(f)
                if a is None:
                    return None
                return calendar_for(f.manifest, cal_name, f).business_minutes(a, f.now) / scale

            def flip(f, anchor=anchor):
                a = anchor(f)
                if a is None:
                    return None
                at = calendar_for(f.manifest, cal_name, f).add_business_minutes(a, minutes)
                if op == "greater_than":
                    at += _STRICT      # strictly more: one tick after equality
                return at if at > f.now else None
        else:
            def get(f, anchor=anchor):
                a = anchor(f)
                return None if a is None else (f.now - a).total_seconds() / 60.0 / scale

            def flip(f, anchor=anchor):
                a = anchor(f)
                if a is None:
                    return None
                at = a + timedelta(minutes=minutes)
                if op == "greater_than":
                    at += _STRICT
                return at if at > f.now else None
        expected = {"value": value, "unit": unit}
    elif name == "customer_contacts":
        window = float(cond.get("window_hours", 24)) * 60.0
        get = _customer_contacts(window)
        expected = {"value": value, "window_hours": cond.get("window_hours", 24)}
    elif name == "clock.business_hours":
        cal_name = cond.get("calendar")

        def get(f):
            return calendar_for(f.manifest, cal_name, f).is_open(f.now)

        def flip(f):
            cal = calendar_for(f.manifest, cal_name, f)
            if getattr(cal, "always_open", False):
                return None
            at = cal.next_close(f.now) if cal.is_open(f.now) else cal.next_open(f.now)
            return at if at is not None and at > f.now else None
    elif spec.type == "date":
        raw = get

        def flip(f):
            d = raw(f)
            if d is None or not _is_num(value):
                return None
            at = d - timedelta(days=float(value))
            return at if at > f.now else None

    test = _make_test(spec, op, value, get, cond, manifest)
    if spec.type == "amount" and op in ("within_authority", "above_authority"):
        expected = {"tier": cond.get("tier") or "current"}
    source, bindings = _fast_source(spec, op, value, cond, get, test, manifest)
    return Compiled(path, name, op, expected, test, get, flip, source, bindings)


# --------------------------------------------------------------------------------------------
# code generation: one Python function per trigger group and per manifest (all triggers)
# --------------------------------------------------------------------------------------------
_KEYS = itertools.count()
_EXPR = {n: f"t.{n}" for n in ("status", "priority", "type", "channel", "group_id", "assignee_id",
                               "requester_id", "organization_id", "tags", "subject",
                               "satisfaction")}
_EXPR.update({n: f"e.{n}" for n in ("sentiment", "sentiment_label", "attention_score",
                                    "sentiment_shift", "model_score", "complaint")})
_EXPR.update({"risk_tags": "f.risk_tags()", "tier": "f.position()[0]",
              "team": "f.position()[1]"})
_EXPR.update({f"organization.{n}": f"(None if t.organization is None else t.organization.{n})"
              for n in ("segment", "account_value", "name")})
_CMP_SRC = {"less_than": "<", "greater_than": ">", "less_than_or_equal": "<=",
            "greater_than_or_equal": ">="}
_DUR_SRC = _CMP_SRC                       # elapsed (now - anchor) compared with a timedelta


def _fast_source(spec: FieldSpec, op: str, value: Any, cond: Mapping[str, Any], get, test,
                 manifest: Any) -> tuple[str, dict[str, Any]]:
    """An inline expression equivalent to ``test(f)``; falls back to calling ``test``.

    Returned bindings map names to objects; names starting with ``=`` are *hoisted locals*
    (``"=_x_priority": "t.priority"``): computed once at the top of the generated function and
    shared by every condition that reads the same value."""
    k = next(_KEYS)
    ns: dict[str, Any] = {}

    def bind(prefix: str, obj: Any) -> str:
        name = f"_{prefix}{k}"
        ns[name] = obj
        return name

    def hoist(local: str, expr: str) -> str:
        ns["=" + local] = expr
        return local

    t = spec.type
    unit = cond.get("unit", "hours")
    slug = re.sub(r"[^a-z0-9]", "_", spec.name)
    if t == "duration" and op in _DUR_SRC and not unit.startswith("business_"):
        delta = timedelta(minutes=float(value) * UNITS[unit])
        ns[f"_anc_{slug}"] = spec.anchor
        d = bind("dd", delta)
        hoist(f"_xa_{slug}", f"_anc_{slug}(f)")
        el = hoist(f"_xe_{slug}", f"(None if _xa_{slug} is None else now - _xa_{slug})")
        return f"({el} is not None and {el} {_CMP_SRC[op]} {d})", ns
    x = _EXPR.get(spec.name)
    if spec.name == "customer_contacts":
        window = float(cond.get("window_hours", 24))
        wslug = str(window).replace(".", "_")
        ns[f"_cc_{wslug}"] = get
        x = f"_cc_{wslug}(f)"
        slug = f"{slug}_{wslug}"        # one hoisted value per window, not per field
    if x is None or t in ("any", "amount", "date") or op in CHANGE:
        return f"{bind('t', test)}(f)", ns
    x = hoist(f"_x_{slug}", x)
    if op == "present":
        return f"({x} not in (None, '', ()))", ns
    if op == "not_present":
        return f"({x} in (None, '', ()))", ns
    if op in ("is", "is_not"):
        if t == "bool":
            return f"({x} {'is' if op == 'is' else 'is not'} {bool(value)!r})", ns
        return f"({x} {'==' if op == 'is' else '!='} {bind('v', value)})", ns
    if op in ("in", "not_in"):
        return f"({x} {'in' if op == 'in' else 'not in'} {bind('v', frozenset(value))})", ns
    if t == "set":
        want = frozenset((value,) if isinstance(value, str) else (value or ()))
        v = bind("v", want)
        return {"includes": f"(not {v}.isdisjoint({x}))", "includes_all": f"{v}.issubset({x})",
                "not_includes": f"{v}.isdisjoint({x})", "is_empty": f"(not {x})",
                "is_not_empty": f"bool({x})"}[op], ns
    if op in _CMP_SRC and t == "number":
        return f"({x} is not None and {x} {_CMP_SRC[op]} {bind('v', float(value))})", ns
    if op in _CMP_SRC and t == "ordered":
        rank = _rank_of(spec, manifest)
        r = rank(value) if rank else None
        if rank is None or r is None:
            return f"{bind('t', test)}(f)", ns
        ns[f"_rank_{slug}"] = rank
        xr = hoist(f"_xr_{slug}", f"_rank_{slug}({x})")
        return f"({xr} is not None and {xr} {_CMP_SRC[op]} {bind('v', r)})", ns
    return f"{bind('t', test)}(f)", ns


def _cost(c: Compiled) -> int:
    """Cheap tests first so ``and`` short-circuits early: comparisons of shared values, then
    elapsed times, then calls into closures (windows, custom fields, business hours...)."""
    if c.source.startswith("_t"):
        return 2
    return 1 if "_xe_" in c.source else 0


def group_source(alls: Sequence[Compiled], anys: Sequence[Compiled]) -> str:
    parts = [c.source for c in sorted(alls, key=_cost)]
    if anys:
        parts.append("(" + " or ".join(c.source for c in anys) + ")")
    return "(" + " and ".join(parts) + ")" if parts else "True"


def build_function(sources: Sequence[str], bindings: Mapping[str, Any], many: bool):
    """``def _fn(f)`` returning one bool (``many=False``) or a tuple of bools."""
    body = ", ".join(sources) + ("," if many and len(sources) == 1 else "")
    expr = f"({body})" if many else sources[0]
    lines = ["def _fn(f):", "    t = f.ticket", "    e = f.enrichment", "    now = f.now"]
    ns: dict[str, Any] = {}
    hoisted = [(k[1:], v) for k, v in bindings.items() if k.startswith("=")]
    order = ("_x_", "_xa_", "_xe_", "_xr_")          # values, anchors, elapsed, ranks
    hoisted.sort(key=lambda kv: (next((i for i, p in enumerate(order) if kv[0].startswith(p)),
                                      len(order)), kv[0]))
    lines += [f"    {local} = {src}" for local, src in hoisted]
    lines.append(f"    return {expr}")
    ns.update({k: v for k, v in bindings.items() if not k.startswith("=")})
    exec(compile("\n".join(lines) + "\n", "<tiergate-conditions>", "exec"), ns)  # noqa: S102
    return ns["_fn"]


def _rank_of(spec: FieldSpec, manifest: Any) -> Callable[[Any], int | None] | None:
    if spec.name == "priority":
        ranks = {p: i for i, p in enumerate(PRIORITIES)}
        return ranks.get
    if spec.name == "tier":
        ranks = {n: t.order for n, t in (getattr(manifest, "tiers", None) or {}).items()}
        return ranks.get
    return None


def _make_test(spec: FieldSpec, op: str, value: Any, get, cond, manifest) -> Callable[[Facts], bool]:
    t = spec.type
    if op in CHANGE:
        minutes = None if value is True else float(value) * 60.0
        ch = _changed_within(spec.name, minutes)
        return ch if op == "changed" else (lambda f: not ch(f))
    if op == "present":
        return lambda f: get(f) not in (None, "", ())
    if op == "not_present":
        return lambda f: get(f) in (None, "", ())
    if t == "set":
        want = (value,) if isinstance(value, str) else tuple(value or ())
        wset = frozenset(want)
        if op == "includes":
            return lambda f: not wset.isdisjoint(get(f) or ())
        if op == "includes_all":
            return lambda f: wset.issubset(get(f) or ())
        if op == "not_includes":
            return lambda f: wset.isdisjoint(get(f) or ())
        if op == "is_empty":
            return lambda f: not get(f)
        return lambda f: bool(get(f))
    if op == "is":
        if t == "number" or t == "amount" or t == "any":
            return lambda f: _eq(get(f), value)
        return lambda f: get(f) == value
    if op == "is_not":
        if t == "number" or t == "amount" or t == "any":
            return lambda f: not _eq(get(f), value)
        return lambda f: get(f) != value
    if op in ("in", "not_in"):
        vals = frozenset(value)
        if op == "in":
            return lambda f: get(f) in vals
        return lambda f: get(f) not in vals
    if op in ("contains", "not_contains"):
        needle = str(value).lower()

        def contains(f):
            v = get(f)
            return v is not None and needle in str(v).lower()
        return contains if op == "contains" else (lambda f: not contains(f))
    if op in _CMP:
        cmp = _CMP[op]
        rank = _rank_of(spec, manifest)
        if rank is not None:
            r = rank(value)

            def ranked(f):
                a = rank(get(f))
                return a is not None and r is not None and cmp(a, r)
            return ranked
        if t == "duration":
            v = float(value)

            def dur(f):
                a = get(f)
                return a is not None and cmp(a, v)
            return dur
        v = float(value)

        def num(f):
            a = get(f)
            if a is None or isinstance(a, bool):
                return False
            try:
                return cmp(float(a), v)
            except (TypeError, ValueError):
                return False
        return num
    if op in ("within", "not_within", "before", "after"):
        days = float(value)

        def days_ahead(f):
            d = get(f)
            return None if d is None else (d - f.now).total_seconds() / 86400.0
        if op == "within":
            return lambda f: (lambda x: x is not None and 0 <= x <= days)(days_ahead(f))
        if op == "not_within":
            return lambda f: (lambda x: x is None or x < 0 or x > days)(days_ahead(f))
        if op == "before":          # more than N days ago
            return lambda f: (lambda x: x is not None and x < -days)(days_ahead(f))
        return lambda f: (lambda x: x is not None and x > days)(days_ahead(f))
    if op in ("within_authority", "above_authority"):
        kind = spec.name.split(".", 1)[1]
        fixed_tier = cond.get("tier")

        def over(f):
            amount = get(f)
            if amount is None:
                return None
            tier = fixed_tier or f.position()[0]
            limit = _authority_limit(f.manifest, tier, kind)
            return amount > (limit if limit is not None else 0.0)
        if op == "above_authority":
            return lambda f: over(f) is True
        return lambda f: over(f) is False
    raise ValueError(f"operator {op!r} not compiled for {spec.name}")


def _eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, (int, float)) and not isinstance(b, bool):
        try:
            return float(a) == float(b)
        except ValueError:
            return False
    return a == b


@dataclass(frozen=True)
class Group:
    """A compiled ``{all, any}`` group."""

    all: tuple[Compiled, ...]
    any: tuple[Compiled, ...]
    test: Callable[[Facts], bool]
    source: str = "True"
    bindings: Mapping[str, Any] = field(default_factory=dict)

    def explain(self, f: Facts) -> tuple[ConditionResult, ...]:
        return tuple(c.result(f) for c in self.all + self.any)

    def flips(self, f: Facts) -> list[datetime]:
        out = []
        for c in self.all + self.any:
            if c.flip_at is not None:
                at = c.flip_at(f)
                if at is not None:
                    out.append(at)
        return out


def compile_group(group: Mapping[str, Any], path: str, manifest: Any) -> Group:
    alls = tuple(compile_condition(c, f"{path}.all[{i}]", manifest)
                 for i, c in enumerate(group.get("all") or ()))
    anys = tuple(compile_condition(c, f"{path}.any[{i}]", manifest)
                 for i, c in enumerate(group.get("any") or ()))
    source = group_source(alls, anys)
    bindings: dict[str, Any] = {}
    for c in alls + anys:
        bindings.update(c.bindings)
    return Group(alls, anys, build_function([source], bindings, many=False), source, bindings)


def compile_all(groups: Sequence[Group]):
    """One function testing every group at once: ``fn(facts) -> tuple[bool, ...]``."""
    if not groups:
        return lambda f: ()
    bindings: dict[str, Any] = {}
    for g in groups:
        bindings.update(g.bindings)
    return build_function([g.source for g in groups], bindings, many=True)


# --------------------------------------------------------------------------------------------
# contradiction analysis (load time): an `all` list that can never hold
# --------------------------------------------------------------------------------------------
def contradictions(conds: Sequence[Mapping[str, Any]], tier_ranks: Mapping[str, int] | None = None
                   ) -> list[tuple[int, str]]:
    """(index, message) for each condition of an ``all`` list that cannot hold together with an
    earlier one. Conditions with different parameters (unit, window) are compared separately."""
    out: list[tuple[int, str]] = []
    state: dict[tuple, dict[str, Any]] = {}
    for i, c in enumerate(conds):
        name, op, value = c.get("field"), c.get("operator"), c.get("value")
        spec = field_spec(name) if isinstance(name, str) else None
        if spec is None or op not in spec.operators or validate_condition(c):
            continue
        key = (name, c.get("unit"), c.get("calendar"), c.get("window_hours"), c.get("tier"))
        st = state.setdefault(key, {"lo": -math.inf, "lo_strict": False, "hi": math.inf,
                                    "hi_strict": False, "eq": _MISSING, "ne": set(),
                                    "allowed": None, "has": set(), "hasnt": set(),
                                    "present": None, "first": i})
        why = _apply(st, spec, op, value, tier_ranks or {})
        if why:
            out.append((i, f"contradicts an earlier condition on '{name}' in the same `all` "
                           f"({why}): the trigger can never fire"))
    return out


def _apply(st: dict, spec: FieldSpec, op: str, value: Any, tier_ranks: Mapping[str, int]) -> str | None:
    t = spec.type
    if op == "present":
        if st["present"] is False:
            return "present and not_present"
        st["present"] = True
        return None
    if op == "not_present":
        if st["present"] is True or st["eq"] is not _MISSING:
            return "not_present and a required value"
        st["present"] = False
        return None
    if op in CHANGE or op in ("contains", "not_contains", "within_authority", "above_authority",
                              "within", "not_within", "before", "after"):
        flag = ("auth", spec.name) if "authority" in op else None
        if flag:
            other = "above_authority" if op == "within_authority" else "within_authority"
            if st.get(other):
                return "within_authority and above_authority"
            st[op] = True
        return None
    if t == "set":
        want = {value} if isinstance(value, str) else set(value or ())
        if op == "includes_all":
            if want & st["hasnt"]:
                return f"requires and excludes {sorted(want & st['hasnt'])}"
            st["has"] |= want
        elif op == "includes":
            if want <= st["hasnt"]:
                return f"includes one of {sorted(want)} but all are excluded"
        elif op == "not_includes":
            if want & st["has"]:
                return f"excludes required {sorted(want & st['has'])}"
            st["hasnt"] |= want
        return None
    rank = None
    if spec.name == "priority":
        rank = {p: i for i, p in enumerate(PRIORITIES)}
    elif spec.name == "tier":
        rank = dict(tier_ranks)
    if op == "is":
        if st["present"] is False:
            return "a value and not_present"
        if st["eq"] is not _MISSING and not _eq(st["eq"], value):
            return f"is {st['eq']!r} and is {value!r}"
        if value in st["ne"]:
            return f"is {value!r} and is_not {value!r}"
        if st["allowed"] is not None and value not in st["allowed"]:
            return f"is {value!r} but not in the allowed list"
        v = rank.get(value) if rank else value
        if _is_num(v) and not _in_bounds(st, float(v)):
            return f"is {value!r} outside the compared range"
        st["eq"] = value
        return None
    if op == "is_not":
        if st["eq"] is not _MISSING and _eq(st["eq"], value):
            return f"is {value!r} and is_not {value!r}"
        st["ne"].add(value)
        if st["allowed"] is not None:
            st["allowed"] = st["allowed"] - {value}
            if not st["allowed"]:
                return "no value left"
        return None
    if op in ("in", "not_in"):
        vals = set(value)
        if op == "in":
            st["allowed"] = vals if st["allowed"] is None else st["allowed"] & vals
        else:
            st["ne"] |= vals
            if st["allowed"] is not None:
                st["allowed"] -= vals
        if st["allowed"] is not None:
            st["allowed"] -= st["ne"]
            if not st["allowed"]:
                return "no value is allowed by both lists"
            if st["eq"] is not _MISSING and st["eq"] not in st["allowed"]:
                return f"is {st['eq']!r} but not in the allowed list"
        elif st["eq"] is not _MISSING and st["eq"] in st["ne"]:
            return f"is {st['eq']!r} and not_in a list holding it"
        return None
    if op in _CMP:
        v = rank.get(value) if rank else value
        if not _is_num(v):
            return None
        v = float(v)
        if op in ("greater_than", "greater_than_or_equal"):
            strict = op == "greater_than"
            if v > st["lo"] or (v == st["lo"] and strict):
                st["lo"], st["lo_strict"] = v, strict
        else:
            strict = op == "less_than"
            if v < st["hi"] or (v == st["hi"] and strict):
                st["hi"], st["hi_strict"] = v, strict
        if st["lo"] > st["hi"] or (st["lo"] == st["hi"] and (st["lo_strict"] or st["hi_strict"])):
            return "the compared range is empty"
        if rank and spec.values:
            pass
        eqv = st["eq"]
        if eqv is not _MISSING:
            e = rank.get(eqv) if rank else eqv
            if _is_num(e) and not _in_bounds(st, float(e)):
                return f"is {eqv!r} outside the compared range"
        if rank:
            left = [n for n, r in rank.items() if _in_bounds(st, float(r))]
            if not left:
                return "no value is in the compared range"
        return None
    return None


def _in_bounds(st: dict, v: float) -> bool:
    lo_ok = v > st["lo"] if st["lo_strict"] else v >= st["lo"]
    hi_ok = v < st["hi"] if st["hi_strict"] else v <= st["hi"]
    return lo_ok and hi_ok


def is_time_field(name: str) -> bool:
    spec = field_spec(name)
    return spec is not None and (spec.type in ("duration", "date") or name == "clock.business_hours")


__all__ = ["Facts", "FieldSpec", "Compiled", "Group", "OPERATORS", "ALL_OPERATORS", "UNITS",
           "field_spec", "field_names", "validate_condition", "compile_condition",
           "compile_group", "contradictions", "calendar_for", "SLA_METRICS", "AMOUNT_KINDS",
           "PRIORITIES"]
