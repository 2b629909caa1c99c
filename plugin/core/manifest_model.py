"""The escalation manifest as frozen objects: ``Manifest`` and the sections it is made of.

Built by ``manifest_schema`` (sections) and ``manifest`` (the whole). Mappings are read-only
views; ``Manifest.program`` holds the compiled triggers and ``Manifest.evaluate`` tests them all.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from tiergate.plugin.core.sla_config import SlaConfig


@dataclass(frozen=True)
class Changelog:
    author: str
    date: str
    message: str


@dataclass(frozen=True)
class Helpdesk:
    kind: str = "zendesk"
    plan: str = "professional"
    rate_limit_per_minute: int = 400
    bot_user_id: int | None = None
    default_tier: str | None = None
    default_calendar: str | None = None
    users_affected_field: str = "users_affected"
    score_field: str | None = None      # ticket field written with the attention score
    risk_field: str | None = None       # ticket field written with the risk tags
    agents: Mapping[str, str] = field(default_factory=dict)     # user id -> display name


@dataclass(frozen=True)
class HandoffSettings:
    """Read by ``plugin.core.handoff`` (manual escalations, warm public reply, note size)."""

    public_reply: bool = False
    required: tuple[str, ...] = ("steps", "logs", "impact")
    comment_limit: int = 64 * 1024
    next_update_minutes: float = 240.0
    note_on_manual: bool = True


@dataclass(frozen=True)
class Tier:
    """A rung of the hierarchical chain; ``order`` defines "one level up"."""

    name: str
    order: int
    group_id: int
    owner_id: int
    label: str = ""
    calendar: str | None = None
    oncall: str | None = None
    public_name: str | None = None
    warm_reply: bool | None = None
    kind: str = "tier"


@dataclass(frozen=True)
class Team:
    """A functional team (billing -> finance, security -> security team)."""

    name: str
    group_id: int
    owner_id: int
    label: str = ""
    calendar: str | None = None
    oncall: str | None = None
    handles: tuple[str, ...] = ()
    rank: int = 0
    public_name: str | None = None
    warm_reply: bool | None = None
    kind: str = "team"


@dataclass(frozen=True)
class Authority:
    currency: str = "USD"
    limits: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    approvers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Nlp:
    model: str | None = None
    language: str = "en"
    options: Mapping[str, Any] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    name: str
    kind: str            # email | webhook | pagerduty | slack
    target: str
    group_id: int | None = None
    owner_id: int | None = None
    template: str | None = None
    channels: tuple = ()  # oncall_schema.Channel; empty: page through (kind, target)


@dataclass(frozen=True)
class Oncall:
    default: str | None = None
    routes: Mapping[str, Route] = field(default_factory=dict)
    page_requires_organization: bool = False
    smtp: Any = None      # oncall_schema.Smtp: how email pages leave


@dataclass(frozen=True)
class Review:
    sample_rate: float = 0.05
    tag: str = "tg_review"
    seed: int = 0


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    value: Any = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conditions:
    all: tuple[Condition, ...] = ()
    any: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Action:
    type: str
    tags: tuple[str, ...] = ()
    template: str | None = None
    to: str | None = None
    priority: str | None = None
    route: str | None = None
    amount: float | None = None
    kinds: tuple[str, ...] = ()
    commitment: str = "response"
    handoff_note: bool = True
    public_template: str | None = None
    template_within: str | None = None
    template_above: str | None = None


@dataclass(frozen=True)
class Trigger:
    name: str
    conditions: Conditions
    actions: tuple[Action, ...]
    description: str = ""
    enabled: bool = True
    index: int = 0            # position in the manifest (tie-breaker, JSON paths)


@dataclass(frozen=True, eq=False)
class Manifest:
    """The policy in force. Mappings are read-only views; ``program`` is the compiled triggers."""

    version: str
    label: str | None
    schema_url: str | None
    changelog: Changelog | None
    helpdesk: Helpdesk
    tiers: Mapping[str, Tier]
    teams: Mapping[str, Team]
    authority: Authority
    keywords: Mapping[str, tuple[str, ...]]
    nlp: Nlp
    calendars: Mapping[str, Any]
    sla: SlaConfig
    oncall: Oncall
    templates: Mapping[str, str]
    triggers: tuple[Trigger, ...]
    review: Review
    handoff: HandoffSettings = field(default_factory=HandoffSettings)
    risk_tags: Mapping[str, Any] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict, repr=False)
    group_index: Mapping[int, tuple[str, str]] = field(default_factory=dict, repr=False)
    program: tuple = field(default=(), repr=False)
    evaluate: Any = field(default=None, repr=False)   # facts -> tuple[bool] for ``program``

    @property
    def nlp_model(self) -> str | None:
        return self.nlp.model

    @property
    def nlp_thresholds(self) -> Mapping[str, float]:
        return self.nlp.thresholds

    def tier_chain(self) -> tuple[Tier, ...]:
        return tuple(sorted(self.tiers.values(), key=lambda t: t.order))

    def owner(self, name: str) -> Tier | Team | None:
        return self.tiers.get(name) or self.teams.get(name)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dict(self.source)))
