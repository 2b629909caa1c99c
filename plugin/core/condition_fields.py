"""The condition field catalogue: every field a trigger may test, its type and operators.

Operators per type (``OPERATORS``), units, the allowed values of enum fields, and one
``FieldSpec`` per field (how to read it from ``Facts``; for times, the instant counted from).
``field_spec`` also resolves the pattern families ``custom.<name>``, ``amount.<kind>`` and
``sla.<metric>.<attr>``. Ordered fields rank their values with ``rank_of``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from tiergate.plugin.core.condition_facts import (Facts, anchor_agent, anchor_customer,
                                                  anchor_public, anchor_status, custom_value,
                                                  handoff_count, renewal_days, reopen_count,
                                                  sla_clock, users_affected)
from tiergate.plugin.core.sla_config import COMMITMENT_METRICS, METRICS

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
SLA_METRICS = tuple(METRICS) + tuple(COMMITMENT_METRICS)
AMOUNT_KINDS = ("refund", "discount", "credit", "money")
SEGMENTS = ("vip", "enterprise", "smb", "midmarket", "startup", "public_sector")
MISSING = object()                 # a condition key that is absent (not null)


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
              anchor=anchor_customer, params=("unit", "calendar")),
    FieldSpec("since_agent_update", "duration", "Time since an agent last wrote (any comment).",
              anchor=anchor_agent, params=("unit", "calendar")),
    FieldSpec("since_public_update", "duration", "Time since the last public comment.",
              anchor=anchor_public, params=("unit", "calendar")),
    FieldSpec("since_update", "duration", "Time since the ticket was last updated.",
              anchor=lambda f: f.ticket.updated_at or f.ticket.created_at,
              params=("unit", "calendar")),
    FieldSpec("time_in_tier", "duration", "Time since the ticket entered its current group.",
              anchor=lambda f: f.tier_start(), params=("unit", "calendar")),
    FieldSpec("time_in_status", "duration", "Time since the status last changed.",
              anchor=anchor_status, params=("unit", "calendar")),
    # history
    FieldSpec("reopen_count", "number", "Times the ticket was reopened after solved.",
              reopen_count),
    FieldSpec("handoffs", "number", "Times the ticket moved between groups.", handoff_count),
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
              renewal_days),
    FieldSpec("organization.tags", "set", "Organization tags.",
              lambda f: () if f.ticket.organization is None else f.ticket.organization.tags),
    FieldSpec("organization.name", "string", "Organization name.", _o("name")),
    FieldSpec("users_affected", "number", "Users affected (the custom field named by "
              "helpdesk.users_affected_field).", users_affected),
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
                         custom_value(name[7:]))
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
        c = sla_clock(f, metric)
        if c is None:
            return False if attr == "breached" else None
        if attr == "remaining_minutes":
            return c.target_minutes - c.elapsed_minutes
        return getattr(c, attr)
    return g


def fixed_field_names() -> list[str]:
    """The names of the catalogue's fixed fields (no pattern families)."""
    return sorted(_STATIC)


def field_names() -> list[str]:
    """Every field name, with the pattern families written as templates."""
    return sorted(_STATIC) + ["custom.<name>", "amount.<refund|discount|credit>",
                              "sla.<metric>.pct_elapsed", "sla.<metric>.breached",
                              "sla.<metric>.remaining_minutes", "sla.<metric>.paused",
                              "(metrics: " + ", ".join(SLA_METRICS) + ")"]


def rank_of(spec: FieldSpec, manifest: Any) -> Callable[[Any], int | None] | None:
    """Rank of a value of an ordered field (priority, tier); None for other fields."""
    if spec.name == "priority":
        ranks = {p: i for i, p in enumerate(PRIORITIES)}
        return ranks.get
    if spec.name == "tier":
        ranks = {n: t.order for n, t in (getattr(manifest, "tiers", None) or {}).items()}
        return ranks.get
    return None


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def loose_equal(a: Any, b: Any) -> bool:
    """Equality as a condition means it: numbers by value, numeric strings against numbers."""
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


def is_time_field(name: str) -> bool:
    spec = field_spec(name)
    return spec is not None and (spec.type in ("duration", "date") or name == "clock.business_hours")
