"""The plain data tiergate reasons about: ticket snapshots, enrichment, and the decision.

Everything here is a frozen dataclass with ``to_dict`` / ``from_dict`` so it can cross a job
boundary as JSON (never pickle). Connectors build ``Ticket`` snapshots; ``nlp`` builds
``Enrichment``; ``plugin.core.decide`` turns both into a ``Decision`` holding one
``TicketUpdate``; connectors apply that update in a single write.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 (``Z`` or offset) or datetime -> aware UTC datetime; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def format_time(value: datetime | None) -> str | None:
    """Aware datetime -> ``2024-04-17T17:18:10Z`` (Zendesk's shape)."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ")


class _Serial:
    """to_dict / from_dict for the flat frozen dataclasses below."""

    _times: tuple[str, ...] = ()
    _nested: Mapping[str, Any] = {}
    _tuples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _plain(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names:
                continue
            if key in cls._times:
                value = parse_time(value)
            elif key in cls._nested and value is not None:
                kind = cls._nested[key]
                if isinstance(value, list):
                    value = tuple(kind.from_dict(v) for v in value)
                else:
                    value = kind.from_dict(value)
            elif key in cls._tuples and value is not None:
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            elif isinstance(value, dict):
                value = dict(value)
            kwargs[key] = value
        return cls(**kwargs)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:          # exact JSON types first: the common case, without ABC checks
        return value
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return format_time(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict()  # type: ignore[union-attr]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


# author roles as helpdesks name them: the customer's side, and the desk's own
CUSTOMER_ROLES = frozenset({"end-user", "end_user", "customer", "requester", "user"})
AGENT_ROLES = frozenset({"agent", "admin", "system"})


@dataclass(frozen=True)
class Comment(_Serial):
    """One entry of the conversation. ``author_role`` is ``end-user``, ``agent`` or ``system``."""

    id: int
    author_id: int | None
    author_role: str
    body: str
    public: bool
    created_at: datetime | None
    channel: str = "web"
    attachments: tuple[str, ...] = ()

    _times = ("created_at",)
    _tuples = ("attachments",)


@dataclass(frozen=True)
class Organization(_Serial):
    """The customer's organization with what the manifest may condition on."""

    id: int
    name: str
    tags: tuple[str, ...] = ()
    segment: str | None = None          # e.g. "vip", "enterprise", "smb"
    account_value: float | None = None  # yearly contract value
    renewal_at: datetime | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    _times = ("renewal_at",)
    _tuples = ("tags",)


@dataclass(frozen=True)
class Change(_Serial):
    """One audited change of a ticket field (group, status, priority...), oldest first."""

    at: datetime | None
    field: str
    old: Any
    new: Any
    author_id: int | None = None

    _times = ("at",)


@dataclass(frozen=True)
class Ticket(_Serial):
    """A snapshot of one ticket as the helpdesk reports it now (workers always re-fetch)."""

    id: int
    subject: str
    description: str
    status: str
    priority: str | None
    type: str | None
    group_id: int | None
    assignee_id: int | None
    requester_id: int | None
    organization_id: int | None
    tags: tuple[str, ...]
    channel: str
    created_at: datetime | None
    updated_at: datetime | None
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    comments: tuple[Comment, ...] = ()
    organization: Organization | None = None
    changes: tuple[Change, ...] = ()
    satisfaction: str | None = None     # "good" | "bad" | None
    problem_id: int | None = None       # parent (problem / merged-into / follow-up source)
    via_followup_source_id: int | None = None

    _times = ("created_at", "updated_at")
    _nested = {"comments": Comment, "organization": Organization, "changes": Change}
    _tuples = ("tags",)


@dataclass(frozen=True)
class RiskTag(_Serial):
    """A risk keyword found in the conversation: the tag, the matched phrase, where."""

    tag: str
    phrase: str
    comment_index: int = 0


@dataclass(frozen=True)
class Reason(_Serial):
    """One signal's contribution to the attention score, in points, with a readable detail."""

    signal: str
    points: float
    detail: str


@dataclass(frozen=True)
class Enrichment(_Serial):
    """What ``nlp.enrich`` says about a ticket's whole conversation."""

    attention_score: float                    # 0..100 (whole points; one decimal with a model)
    sentiment: float                          # -1..1, conversation level
    sentiment_label: str                      # negative | neutral | positive
    complaint: bool
    risk_tags: tuple[RiskTag, ...] = ()
    reasons: tuple[Reason, ...] = ()
    comment_sentiments: tuple[float, ...] = ()  # per customer comment, oldest first
    sentiment_shift: float = 0.0              # last customer comment minus first (negative = worse)
    amounts: Mapping[str, float] = field(default_factory=dict)  # {"refund": 250.0, ...}
    model_score: float | None = None          # trained classifier probability, when configured
    language: str = "und"                     # ISO 639-1 of the customer's words ("und": unsure)
    language_supported: bool = True           # the risk detector reads this language
    stakes: Mapping[str, Any] = field(default_factory=dict)   # people, deadline, money (core.stakes)
    closing: bool = False                     # the latest customer message closes the matter
    auto_replies: tuple[int, ...] = ()        # comments that are out-of-office or auto replies
    settled_at: int | None = None             # last earlier customer comment saying it was solved

    _nested = {"risk_tags": RiskTag, "reasons": Reason}
    _tuples = ("comment_sentiments", "auto_replies")

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.tag for r in self.risk_tags))


@dataclass(frozen=True)
class Note(_Serial):
    """A comment tiergate writes. ``fingerprint`` makes re-runs harmless: a note whose
    fingerprint already appears in the thread is never written again."""

    body: str
    public: bool = False
    fingerprint: str = ""


@dataclass(frozen=True)
class TicketUpdate(_Serial):
    """Everything one decision changes on one ticket, applied as ONE helpdesk write."""

    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    notes: tuple[Note, ...] = ()
    group_id: int | None = None
    assignee_id: int | None = None
    priority: str | None = None
    custom_fields: Mapping[str, Any] = field(default_factory=dict)

    _nested = {"notes": Note}
    _tuples = ("add_tags", "remove_tags")

    def is_empty(self) -> bool:
        return not (self.add_tags or self.remove_tags or self.notes or self.group_id is not None
                    or self.assignee_id is not None or self.priority is not None
                    or self.custom_fields)


@dataclass(frozen=True)
class Notification(_Serial):
    """A message for a route outside the helpdesk (on-call webhook or email queue)."""

    route: str
    kind: str          # "webhook" | "email"
    target: str        # URL or address
    subject: str
    body: str
    fingerprint: str = ""


@dataclass(frozen=True)
class ConditionResult(_Serial):
    """One condition as evaluated: the JSON path, the field, the operator, expected and seen."""

    path: str
    field: str
    operator: str
    expected: Any
    actual: Any
    held: bool


@dataclass(frozen=True)
class FiredTrigger(_Serial):
    """A trigger that fired, with the conditions that held (the explanation)."""

    name: str
    conditions: tuple[ConditionResult, ...] = ()

    _nested = {"conditions": ConditionResult}


@dataclass(frozen=True)
class Escalation(_Serial):
    """A move of the ticket to exactly one owner."""

    from_tier: str | None
    to_tier: str                  # tier or functional team name
    kind: str                     # "hierarchical" | "functional"
    group_id: int | None
    owner_id: int | None
    trigger: str
    after_hours: bool = False     # routed to on-call because the team is closed
    oncall_route: str | None = None


@dataclass(frozen=True)
class ClockState(_Serial):
    """One SLA clock of a ticket at ``now`` (minutes are business or calendar per policy)."""

    metric: str                   # first_reply_time, next_reply_time, periodic_update_time, ...
    policy: str
    target_minutes: float
    elapsed_minutes: float
    pct_elapsed: float            # 0..100+ of target
    breached: bool
    paused: bool
    business_hours: bool
    started_at: datetime | None = None
    due_at: datetime | None = None                # breach instant (None while paused)
    warn_at: tuple[tuple[int, str], ...] = ()    # ((75, "2024-..Z"), ...) warn-stage instants

    _times = ("started_at", "due_at")
    _tuples = ("warn_at",)


@dataclass(frozen=True)
class Timer(_Serial):
    """An instant at which the decision must be re-run (SLA stage or time trigger)."""

    at: datetime
    kind: str                     # "sla" | "trigger"
    name: str                     # metric or trigger name
    stage: str = ""               # "warn:75" | "breach" | ""

    _times = ("at",)


@dataclass(frozen=True)
class Decision(_Serial):
    """The pure core's answer for one ticket at one instant."""

    ticket_id: int
    at: datetime | None
    manifest_version: str
    update: TicketUpdate = field(default_factory=TicketUpdate)
    fired: tuple[FiredTrigger, ...] = ()
    rearmed: tuple[str, ...] = ()             # triggers whose condition went false again
    fired_state: tuple[str, ...] = ()         # triggers fired in the current episode, after this
    escalation: Escalation | None = None
    notifications: tuple[Notification, ...] = ()
    clocks: tuple[ClockState, ...] = ()
    timers: tuple[Timer, ...] = ()
    reasons: tuple[str, ...] = ()             # readable lines for logs and the demo

    _times = ("at",)
    _nested = {"update": TicketUpdate, "fired": FiredTrigger, "escalation": Escalation,
               "notifications": Notification, "clocks": ClockState, "timers": Timer}
    _tuples = ("rearmed", "fired_state", "reasons")
