"""The escalation manifest: marshmallow schemas -> one frozen ``Manifest``, or every error at once.

``load_manifest(path_or_dict)`` validates in two passes and raises ``ManifestError`` listing
``(json_path, message)`` pairs such as ``triggers[2].conditions.all[0].operator``:

1. structure (marshmallow): unknown keys, wrong types, unknown fields / operators / values;
2. meaning (``_semantic``): references to tiers, teams, templates, calendars and on-call routes
   that do not exist, template syntax, contradictory ``all`` lists, triggers whose actions do
   nothing, and pairs of triggers that fire together and contradict each other.

The same schemas drive ``tiergate schema`` (``json_schema()``). ``Manifest.version`` is a content
hash of the document; ``Manifest.label`` is the free-form ``version`` the author wrote.
Top-level keys: ``$schema, version, changelog, helpdesk, tiers, teams, authority, keywords, nlp,
calendars, sla, oncall, templates, triggers, review, handoff`` (see ``ManifestSchema``).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

from marshmallow import (RAISE, Schema, ValidationError, fields, post_load, validate,
                         validates_schema)

from tiergate.plugin.core import conditions as C
from tiergate.plugin.core.actions import top_priority
from tiergate.plugin.core.errors import ManifestError
from tiergate.plugin.core.manifest_layers import resolve, site_file_schema
from tiergate.plugin.core.risk_schema import risk_tags_field
from tiergate.plugin.core.oncall_schema import CHANNEL_KINDS, ChannelSchema, SmtpSchema, check_target
from tiergate.plugin.core.sla_schema import (CalendarsField, SlaConfig, SlaSchema,
                                             check_references)
from tiergate.plugin.data import read_json

NAME_RE = r"^[a-z][a-z0-9_]{0,62}$"
NAME_MSG = "must be a lower-case name: a-z, 0-9 and _, starting with a letter"
PLANS = ("team", "growth", "professional", "enterprise", "enterprise_plus", "high_volume")
PLAN_RATE = {"team": 200, "growth": 400, "professional": 400, "enterprise": 700,
             "enterprise_plus": 2500, "high_volume": 2500}
HELPDESKS = ("zendesk", "zammad", "freshdesk")
ACTIONS = ("add_tags", "remove_tags", "note", "public_update", "escalate", "set_priority",
           "notify", "csm_outreach", "goodwill_credit", "authority_check")
# action -> {param: required?}; "action" itself is always required
ACTION_PARAMS: dict[str, dict[str, bool]] = {
    "add_tags": {"tags": True},
    "remove_tags": {"tags": True},
    "note": {"template": True},
    "public_update": {"template": True, "commitment": False},
    "escalate": {"to": True, "handoff_note": False, "public_template": False},
    "set_priority": {"priority": True},
    "notify": {"route": True, "template": False},
    "csm_outreach": {"template": False, "tags": False},
    "goodwill_credit": {"amount": True, "template": False, "tags": False},
    "authority_check": {"kinds": False, "template_within": False, "template_above": False},
}
ACTION_DOC = {
    "add_tags": "Add tags to the ticket.",
    "remove_tags": "Remove tags from the ticket.",
    "note": "Internal note rendered from a named template.",
    "public_update": "Public reply from a template with a micro-commitment: `update_by` "
                     "(time) is computed from now and the SLA commitments calendar.",
    "escalate": "Move the ticket to exactly one owner: `to` is 'up' (one tier up), a tier "
                "name (hierarchical) or a team name (functional). A handoff note is added.",
    "set_priority": "Set the ticket priority.",
    "notify": "Send a Notification through a named on-call route (webhook / email queue).",
    "csm_outreach": "Suggest customer-success outreach: tags (default csm_outreach) + a note.",
    "goodwill_credit": "Suggest a goodwill credit of `amount`: tags + a note.",
    "authority_check": "Compare amounts asked (refund/discount/credit) with the current "
                       "tier's authority: within -> a note that the agent may approve now; "
                       "above -> escalate to the approver named in authority.approvers.",
}
COMMITMENTS = ("ack", "response")
_TAG_RE = re.compile(r"^[A-Za-z0-9_\-:./]+$")


# --------------------------------------------------------------------------------------------
# frozen objects
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# schemas
# --------------------------------------------------------------------------------------------
def _d(text: str, **extra: Any) -> dict[str, Any]:
    return {"description": text, **extra}


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _empty(schema_cls):
    """load_default for a nested section: the section loaded from ``{}`` (defaults applied)."""
    return lambda: schema_cls().load({})


def _name(**kw: Any) -> fields.String:
    return fields.String(validate=validate.Regexp(NAME_RE, error=NAME_MSG), **kw)


class _Tuple(fields.List):
    def _deserialize(self, value, attr, data, **kwargs):
        return tuple(super()._deserialize(value, attr, data, **kwargs))


class ChangelogSchema(Strict):
    author = fields.String(required=True, validate=validate.Length(min=1),
                           metadata=_d("Who made this revision."))
    date = fields.String(required=True, validate=validate.Regexp(
        r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$",
        error="must be an ISO date or datetime (2026-11-27 or 2026-11-27T10:00:00Z)"),
        metadata=_d("When (ISO date or datetime)."))
    message = fields.String(required=True, validate=validate.Length(min=1),
                            metadata=_d("What changed and why."))

    @post_load
    def _make(self, data, **kw):
        return Changelog(**data)


class HelpdeskSchema(Strict):
    kind = fields.String(load_default="zendesk", validate=validate.OneOf(HELPDESKS),
                         metadata=_d("Which helpdesk the account is."))
    plan = fields.String(load_default="professional", validate=validate.OneOf(PLANS),
                         metadata=_d("Helpdesk plan; sets the default API rate limit."))
    rate_limit_per_minute = fields.Integer(strict=True, validate=validate.Range(1, 100000),
                                           metadata=_d("API requests per minute for the whole "
                                                       "account (default: the plan's)."))
    bot_user_id = fields.Integer(strict=True, allow_none=True, load_default=None,
                                 metadata=_d("tiergate's own API user id."))
    default_tier = _name(load_default=None, allow_none=True,
                         metadata=_d("Tier of tickets whose group is not a tier or team."))
    default_calendar = fields.String(load_default=None, allow_none=True,
                                     metadata=_d("Calendar used when an owner names none."))
    users_affected_field = fields.String(load_default="users_affected",
                                         metadata=_d("Custom field holding users affected."))
    agents = fields.Dict(keys=fields.String(validate=validate.Regexp(
        r"^[0-9]+$", error="must be a user id (digits)")), values=fields.String(
        validate=validate.Length(min=1)), load_default=dict,
        metadata=_d("Agent display names by user id (handoff notes address people)."))

    @post_load
    def _make(self, data, **kw):
        data.setdefault("rate_limit_per_minute", PLAN_RATE[data["plan"]])
        data["agents"] = MappingProxyType(dict(data["agents"]))
        return Helpdesk(**data)


class HandoffSchema(Strict):
    public_reply = fields.Boolean(load_default=False, metadata=_d(
        "Also post a warm public reply on escalation (who has the case, next update)."))
    required = _Tuple(fields.String(validate=validate.OneOf(("steps", "logs", "impact"))),
                      load_default=("steps", "logs", "impact"),
                      metadata=_d("Context a manual escalation must carry."))
    comment_limit = fields.Integer(strict=True, load_default=64 * 1024,
                                   validate=validate.Range(1000, 1024 * 1024),
                                   metadata=_d("Max bytes of one note."))
    next_update_minutes = fields.Float(load_default=240.0, allow_nan=False,
                                       validate=validate.Range(min=1),
                                       metadata=_d("Default promise horizon of warm replies."))
    note_on_manual = fields.Boolean(load_default=True, metadata=_d(
        "Write the handoff note for complete manual escalations too."))

    @post_load
    def _make(self, data, **kw):
        return HandoffSettings(**data)


_GROUP = fields.Integer(strict=True, required=True, validate=validate.Range(min=1),
                        metadata=_d("Helpdesk group id."))


class _OwnerSchema(Strict):
    """What tiers and functional teams share: where escalations land and who owns them."""

    group_id = fields.Integer(strict=True, required=True, validate=validate.Range(min=1),
                              metadata=_d("Helpdesk group id."))
    owner_id = fields.Integer(strict=True, required=True, validate=validate.Range(min=1),
                              metadata=_d("The one agent who owns escalations sent here."))
    label = fields.String(load_default="", metadata=_d("Readable name (Tier 1 Frontline)."))
    calendar = fields.String(load_default=None, allow_none=True,
                             metadata=_d("Business-hours calendar (a `calendars` key)."))
    oncall = fields.String(load_default=None, allow_none=True,
                           metadata=_d("On-call route used after hours (an `oncall.routes` key)."))
    public_name = fields.String(load_default=None, allow_none=True,
                                metadata=_d("Name customers see in warm replies."))
    warm_reply = fields.Boolean(load_default=None, allow_none=True,
                                metadata=_d("Warm public reply when escalating here."))


class TierSchema(_OwnerSchema):
    order = fields.Integer(strict=True, required=True, validate=validate.Range(0, 100),
                           metadata=_d("Position in the chain: 'up' goes to the next order."))


class TeamSchema(_OwnerSchema):
    handles = _Tuple(fields.String(validate=validate.Length(min=1)), load_default=(),
                     metadata=_d("Topics this team owns (billing, security...)."))
    rank = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, 100),
                          metadata=_d("Weight when merging escalations: a team beats a tier "
                                      "whose order is lower than its rank."))


class LimitsSchema(Strict):
    refund = fields.Float(allow_nan=False, validate=validate.Range(min=0),
                          metadata=_d("Largest refund this tier may approve."))
    discount = fields.Float(allow_nan=False, validate=validate.Range(min=0),
                            metadata=_d("Largest discount this tier may approve."))
    credit = fields.Float(allow_nan=False, validate=validate.Range(min=0),
                          metadata=_d("Largest credit this tier may approve."))
    money = fields.Float(allow_nan=False, validate=validate.Range(min=0),
                         metadata=_d("Largest disputed amount (any phrasing) this tier may settle."))


class ApproversSchema(Strict):
    refund = fields.String(metadata=_d("Tier or team approving refunds above a tier's limit."))
    discount = fields.String(metadata=_d("Tier or team approving larger discounts."))
    credit = fields.String(metadata=_d("Tier or team approving larger credits."))
    money = fields.String(metadata=_d("Tier or team settling larger disputed amounts."))


class AuthoritySchema(Strict):
    currency = fields.String(load_default="USD", validate=validate.Length(equal=3),
                             metadata=_d("ISO currency of the limits."))
    limits = fields.Dict(keys=fields.String(), values=fields.Nested(LimitsSchema),
                         load_default=dict, metadata=_d("Per tier: what its agents may approve."))
    approvers = fields.Nested(ApproversSchema, load_default=dict,
                              metadata=_d("Who approves above the current tier's limit."))

    @post_load
    def _make(self, data, **kw):
        return Authority(currency=data["currency"],
                         limits=MappingProxyType({k: MappingProxyType(dict(v))
                                                  for k, v in data["limits"].items()}),
                         approvers=MappingProxyType(dict(data["approvers"])))


class NlpSchema(Strict):
    model = fields.String(load_default=None, allow_none=True,
                          metadata=_d("Path of a trained risk model (null: rules only)."))
    language = fields.String(load_default="en", metadata=_d("Pipeline language."))
    options = fields.Dict(keys=fields.String(), load_default=dict,
                          metadata=_d("Enricher options (nlp owner)."))
    thresholds = fields.Dict(keys=fields.String(), values=fields.Float(
        validate=validate.Range(min=0.0, max=1.0)), load_default=dict,
        metadata=_d("Semantic similarity threshold per risk tag (tiergate calibrate)."))

    @post_load
    def _make(self, data, **kw):
        return Nlp(model=data["model"], language=data["language"],
                   options=MappingProxyType(dict(data["options"])),
                   thresholds=MappingProxyType(dict(data["thresholds"])))


class RouteSchema(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(CHANNEL_KINDS),
                         metadata=_d("email (SMTP), webhook (POST JSON), pagerduty (Events API v2) "
                                     "or slack (incoming webhook)."))
    target = fields.String(required=True, validate=validate.Length(min=3),
                           metadata=_d("URL for webhook, address for email."))
    group_id = fields.Integer(strict=True, load_default=None, allow_none=True,
                              metadata=_d("On-call group for after-hours escalations."))
    owner_id = fields.Integer(strict=True, load_default=None, allow_none=True,
                              metadata=_d("On-call agent who owns after-hours escalations."))
    template = fields.String(load_default=None, allow_none=True,
                             metadata=_d("Template for the message body."))
    channels = _Tuple(fields.Nested(ChannelSchema), load_default=(), metadata=_d(
        "Channels the page goes out through (all of them); empty: the route's kind and target."))

    @validates_schema
    def _target(self, data, **kw):
        check_target(data.get("kind"), data.get("target", ""))


class OncallSchema(Strict):
    default = fields.String(load_default=None, allow_none=True,
                            metadata=_d("Route used when the owner names none."))
    routes = fields.Dict(keys=fields.String(validate=validate.Regexp(NAME_RE, error=NAME_MSG)),
                         values=fields.Nested(RouteSchema), load_default=dict,
                         metadata=_d("Named on-call routes."))
    page_requires_organization = fields.Boolean(load_default=False, metadata=_d(
        "Never page for a sender with no organization or a message that reads as spam."))
    smtp = fields.Nested(SmtpSchema, load_default=None, allow_none=True,
                         metadata=_d("SMTP server for email pages."))

    @post_load
    def _make(self, data, **kw):
        routes = {n: Route(name=n, **r) for n, r in data["routes"].items()}
        return Oncall(default=data["default"], routes=MappingProxyType(routes),
                      page_requires_organization=data["page_requires_organization"], smtp=data["smtp"])


class ReviewSchema(Strict):
    sample_rate = fields.Float(load_default=0.05, validate=validate.Range(0, 1),
                               metadata=_d("Share of decisions sampled for human review."))
    tag = fields.String(load_default="tg_review", metadata=_d("Tag on sampled tickets."))
    seed = fields.Integer(strict=True, load_default=0, metadata=_d("Sampling seed."))

    @post_load
    def _make(self, data, **kw):
        return Review(**data)


class ConditionSchema(Strict):
    field = fields.String(required=True, metadata=_d(
        "What to test: " + ", ".join(C.field_names())))
    operator = fields.String(required=True, metadata=_d(
        "Allowed operators depend on the field's type: " + "; ".join(
            f"{t}: {', '.join(ops)}" for t, ops in C.OPERATORS.items())))
    value = fields.Raw(allow_none=True, metadata=_d("Expected value (type per field)."))
    unit = fields.String(validate=validate.OneOf(tuple(C.UNITS)),
                         metadata=_d("Times: unit of `value` (default hours); business_* "
                                     "counts only open hours of the calendar."))
    calendar = fields.String(metadata=_d("Calendar for business units / clock fields "
                                         "(default: current owner's)."))
    window_hours = fields.Float(allow_nan=False, metadata=_d(
        "customer_contacts: count contacts within the last N hours (default 24)."))
    tier = fields.String(metadata=_d("amount.* authority operators: whose limit (default: "
                                     "the ticket's current tier)."))

    @validates_schema(skip_on_field_errors=True)
    def _typed(self, data, **kw):
        errors = C.validate_condition(data)
        if errors:
            raise ValidationError({k: [v] for k, v in errors.items()})

    @post_load
    def _make(self, data, **kw):
        value = data.get("value")
        if isinstance(value, list):
            value = tuple(value)
        params = {k: data[k] for k in ("unit", "calendar", "window_hours", "tier") if k in data}
        return Condition(data["field"], data["operator"], value, MappingProxyType(params))


class ConditionsSchema(Strict):
    all = _Tuple(fields.Nested(ConditionSchema), load_default=(),
                 metadata=_d("Every condition must hold."))
    any = _Tuple(fields.Nested(ConditionSchema), load_default=(),
                 metadata=_d("At least one must hold (empty: no constraint)."))

    @post_load
    def _make(self, data, **kw):
        return Conditions(all=data["all"], any=data["any"])


class ActionSchema(Strict):
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS),
                           metadata=_d("; ".join(f"{k}: {v}" for k, v in ACTION_DOC.items())))
    tags = _Tuple(fields.String(validate=validate.Regexp(_TAG_RE.pattern, error="not a valid tag")),
                  validate=validate.Length(min=1), metadata=_d("Tags to add / remove."))
    template = fields.String(metadata=_d("A `templates` key."))
    to = fields.String(metadata=_d("escalate: 'up', a tier name or a team name."))
    priority = fields.String(validate=validate.OneOf(C.PRIORITIES), metadata=_d("New priority."))
    route = fields.String(metadata=_d("An `oncall.routes` key."))
    amount = fields.Float(allow_nan=False, validate=validate.Range(min=0),
                          metadata=_d("goodwill_credit: suggested amount."))
    kinds = _Tuple(fields.String(validate=validate.OneOf(C.AMOUNT_KINDS)),
                   metadata=_d("authority_check: which amounts (default all)."))
    commitment = fields.String(validate=validate.OneOf(COMMITMENTS),
                               metadata=_d("public_update: ack (acknowledgement target) or "
                                           "response (response window, default)."))
    handoff_note = fields.Boolean(metadata=_d("escalate: add the handoff note (default true)."))
    public_template = fields.String(metadata=_d("escalate: also post this public template."))
    template_within = fields.String(metadata=_d("authority_check: note when within authority."))
    template_above = fields.String(metadata=_d("authority_check: note when above authority."))

    @validates_schema(skip_on_field_errors=False)
    def _params(self, data, **kw):
        kind = data.get("action")
        allowed = ACTION_PARAMS.get(kind)
        if allowed is None:
            return
        errors: dict[str, list[str]] = {}
        for key in data:
            if key != "action" and key not in allowed:
                errors[key] = [f"'{key}' does not apply to action '{kind}'; allowed: "
                               f"{', '.join(allowed) or 'none'}"]
        for key, required in allowed.items():
            if required and key not in data:
                errors[key] = [f"required for action '{kind}'"]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _make(self, data, **kw):
        kind = data.pop("action")
        return Action(type=kind, **data)


class TriggerSchema(Strict):
    name = _name(required=True, metadata=_d("Unique name; the ticket shows tg_fired_<name>."))
    description = fields.String(load_default="", metadata=_d("What the trigger is for."))
    enabled = fields.Boolean(load_default=True, metadata=_d("false: kept but never fires."))
    conditions = fields.Nested(ConditionsSchema, required=True,
                               metadata=_d("{all: [...], any: [...]} of {field, operator, value}."))
    actions = _Tuple(fields.Nested(ActionSchema), required=True,
                     validate=validate.Length(min=1), metadata=_d("What to do when it fires."))


class ManifestSchema(Strict):
    """tiergate escalation manifest."""

    schema_url = fields.String(data_key="$schema", load_default=None,
                               metadata=_d("JSON Schema URL/path for editors."))
    version = fields.String(load_default=None, allow_none=True,
                            metadata=_d("Free-form label; the real version is a content hash."))
    changelog = fields.Nested(ChangelogSchema, load_default=None, allow_none=True,
                              metadata=_d("Who, when and why of this revision."))
    helpdesk = fields.Nested(HelpdeskSchema, load_default=_empty(HelpdeskSchema),
                             metadata=_d("The helpdesk account."))
    tiers = fields.Dict(keys=fields.String(validate=validate.Regexp(NAME_RE, error=NAME_MSG)),
                        values=fields.Nested(TierSchema), required=True,
                        validate=validate.Length(min=1),
                        metadata=_d("Hierarchical chain, e.g. tier_0..tier_3, management."))
    teams = fields.Dict(keys=fields.String(validate=validate.Regexp(NAME_RE, error=NAME_MSG)),
                        values=fields.Nested(TeamSchema), load_default=dict,
                        metadata=_d("Functional teams (finance, security)."))
    authority = fields.Nested(AuthoritySchema, load_default=_empty(AuthoritySchema),
                              metadata=_d("Agent authority limits per tier and approvers."))
    keywords = fields.Dict(keys=fields.String(validate=validate.Regexp(NAME_RE, error=NAME_MSG)),
                           values=_Tuple(fields.String(validate=validate.Length(min=1)),
                                         validate=validate.Length(min=1)),
                           load_default=dict, metadata=_d("Risk tag -> phrases (nlp)."))
    nlp = fields.Nested(NlpSchema, load_default=_empty(NlpSchema), metadata=_d("Enricher settings."))
    risk_tags = risk_tags_field()
    calendars = CalendarsField(load_default=dict, metadata=_d(
        "Business-hours calendars by name (sla owner's schema)."))
    sla = fields.Nested(SlaSchema, load_default=_empty(SlaSchema), metadata=_d(
        "SLA policies (sla owner's schema)."))
    oncall = fields.Nested(OncallSchema, load_default=_empty(OncallSchema), metadata=_d("On-call routing."))
    templates = fields.Dict(keys=fields.String(validate=validate.Regexp(NAME_RE, error=NAME_MSG)),
                            values=fields.String(), load_default=dict,
                            metadata=_d("Note templates (sandboxed Jinja) by name."))
    triggers = _Tuple(fields.Nested(TriggerSchema), load_default=(),
                      metadata=_d("Escalation triggers, evaluated in order."))
    review = fields.Nested(ReviewSchema, load_default=_empty(ReviewSchema), metadata=_d("Review sampling."))
    handoff = fields.Nested(HandoffSchema, load_default=_empty(HandoffSchema),
                            metadata=_d("Warm handoff settings (handoff notes, manual escalations)."))


# --------------------------------------------------------------------------------------------
# errors -> (json_path, message)
# --------------------------------------------------------------------------------------------
def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _flatten(messages: Any, node: Any, path: str, out: list[tuple[str, str]]) -> None:
    """Walk marshmallow's nested messages alongside the schema that produced them."""
    if isinstance(messages, (list, tuple)) and all(isinstance(m, str) for m in messages):
        for m in messages:
            out.append((path, m))
        return
    if isinstance(node, fields.Nested):
        node = node.schema
    if isinstance(node, Schema) and isinstance(messages, Mapping):
        by_key = {(f.data_key or n): f for n, f in node.fields.items()}
        for key, sub in messages.items():
            if key == "_schema":
                _flatten(sub, None, path, out)
            elif key not in by_key and sub == ["Unknown field."]:
                out.append((_join(path, key), "unknown key; allowed: " + ", ".join(by_key)))
            else:
                _flatten(sub, by_key.get(key), _join(path, key), out)
        return
    if isinstance(node, fields.List) and isinstance(messages, Mapping):
        for key, sub in messages.items():
            if isinstance(key, int):
                _flatten(sub, node.inner, f"{path}[{key}]", out)
            else:
                _flatten(sub, None, path, out)
        return
    if isinstance(node, fields.Dict) and isinstance(messages, Mapping):
        for key, sub in messages.items():
            if isinstance(sub, Mapping) and set(sub) <= {"key", "value"}:
                if "key" in sub:
                    _flatten(sub["key"], None, _join(path, key), out)
                if "value" in sub:
                    _flatten(sub["value"], node.value_field, _join(path, key), out)
            else:
                _flatten(sub, None, _join(path, key), out)
        return
    if isinstance(messages, Mapping):
        for key, sub in messages.items():
            _flatten(sub, None, path if key == "_schema" else _join(path, key), out)
        return
    if isinstance(messages, (list, tuple)):
        for m in messages:
            _flatten(m, node, path, out)
        return
    out.append((path, str(messages)))


# --------------------------------------------------------------------------------------------
# semantic checks (tolerant of structurally broken input)
# --------------------------------------------------------------------------------------------
def _d_(x: Any) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _l_(x: Any) -> list[Any]:
    return x if isinstance(x, list) else []


def _allowed(names: Iterable[str]) -> str:
    names = sorted(names)
    return ", ".join(names) if names else "(none defined)"


def _semantic(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    errs: list[tuple[str, str]] = []
    tiers = _d_(doc.get("tiers"))
    teams = _d_(doc.get("teams"))
    cals = set(_d_(doc.get("calendars")))
    oncall = _d_(doc.get("oncall"))
    routes = set(_d_(oncall.get("routes")))
    templates = _d_(doc.get("templates"))
    owners = set(tiers) | set(teams)

    def ref(path: str, value: Any, names: set[str], what: str) -> None:
        if isinstance(value, str) and value not in names:
            errs.append((path, f"unknown {what} '{value}'; allowed: {_allowed(names)}"))

    # templates compile
    from jinja2 import TemplateSyntaxError

    from tiergate.plugin.core.templates import compile_template
    for name, text in templates.items():
        if isinstance(text, str):
            try:
                compile_template(text)
            except TemplateSyntaxError as exc:
                errs.append((f"templates.{name}", f"template syntax error line {exc.lineno}: "
                                                   f"{exc.message}"))
    # owners
    seen_groups: dict[int, str] = {}
    seen_orders: dict[int, str] = {}
    for kind, table in (("tiers", tiers), ("teams", teams)):
        for name, spec in table.items():
            spec = _d_(spec)
            p = f"{kind}.{name}"
            if name in tiers and name in teams and kind == "teams":
                errs.append((p, f"'{name}' is both a tier and a team; names must be unique"))
            ref(f"{p}.calendar", spec.get("calendar"), cals, "calendar")
            ref(f"{p}.oncall", spec.get("oncall"), routes, "on-call route")
            g = spec.get("group_id")
            if isinstance(g, int):
                if g in seen_groups:
                    errs.append((f"{p}.group_id", f"group {g} is already used by "
                                                  f"{seen_groups[g]}; each group has one owner"))
                seen_groups[g] = p
            o = spec.get("order")
            if kind == "tiers" and isinstance(o, int):
                if o in seen_orders:
                    errs.append((f"{p}.order", f"order {o} is already used by {seen_orders[o]}"))
                seen_orders[o] = p
    hd = _d_(doc.get("helpdesk"))
    ref("helpdesk.default_tier", hd.get("default_tier"), set(tiers), "tier")
    ref("helpdesk.default_calendar", hd.get("default_calendar"), cals, "calendar")
    # authority
    auth = _d_(doc.get("authority"))
    for name in _d_(auth.get("limits")):
        ref(f"authority.limits.{name}", name, set(tiers), "tier")
    for kind, who in _d_(auth.get("approvers")).items():
        ref(f"authority.approvers.{kind}", who, owners, "tier or team")
    # on-call
    ref("oncall.default", oncall.get("default"), routes, "on-call route")
    for name, r in _d_(oncall.get("routes")).items():
        ref(f"oncall.routes.{name}.template", _d_(r).get("template"), set(templates), "template")
    # the handoff note and on-call page templates must print the facts the next person needs
    from tiergate.plugin.core.handoff_templates import required_problems
    pages = [(f"oncall.routes.{name}.template", _d_(r).get("template"))
             for name, r in _d_(oncall.get("routes")).items()
             if isinstance(_d_(r).get("template"), str)]
    pages += [(f"triggers[{i}].actions[{j}].template", _d_(a).get("template"))
              for i, trig in enumerate(_l_(doc.get("triggers")))
              for j, a in enumerate(_l_(_d_(trig).get("actions")))
              if _d_(a).get("action") == "notify" and isinstance(_d_(a).get("template"), str)]
    errs.extend(required_problems(templates, pages))
    # triggers
    tier_ranks = {n: _d_(t).get("order") for n, t in tiers.items()
                  if isinstance(_d_(t).get("order"), int)}
    top = max(tier_ranks, key=tier_ranks.get) if tier_ranks else None
    names: dict[str, int] = {}
    norm: list[tuple[int, str, Any, Mapping[str, Any]]] = []
    for i, trig in enumerate(_l_(doc.get("triggers"))):
        trig = _d_(trig)
        p = f"triggers[{i}]"
        name = trig.get("name")
        if isinstance(name, str):
            if name in names:
                errs.append((f"{p}.name", f"trigger name '{name}' is already used by "
                                          f"triggers[{names[name]}]"))
            names.setdefault(name, i)
        conds = _d_(trig.get("conditions"))
        pinned: dict[str, Any] = {}
        has_tags: set[str] = set()
        lacks_tags: set[str] = set()
        for part in ("all", "any"):
            for j, c in enumerate(_l_(conds.get(part))):
                c = _d_(c)
                cp = f"{p}.conditions.{part}[{j}]"
                f, op, v = c.get("field"), c.get("operator"), c.get("value")
                if f in ("tier", "team") and op not in ("present", "not_present", "changed",
                                                      "not_changed"):
                    pool = set(tiers) if f == "tier" else set(teams)
                    for item in (v if isinstance(v, list) else [v]):
                        ref(f"{cp}.value", item, pool, f)
                    if f == "team" and op in C.CMP:
                        pass
                ref(f"{cp}.calendar", c.get("calendar"), cals, "calendar")
                ref(f"{cp}.tier", c.get("tier"), set(tiers), "tier")
                if isinstance(c.get("unit"), str) and c["unit"].startswith("business_") \
                        and not c.get("calendar") and not cals:
                    errs.append((f"{cp}.unit", "business units need a calendar; define "
                                               "`calendars`"))
                if part == "all" and op == "is":
                    pinned[f] = v
                if part == "all" and f == "tags":
                    vals = {v} if isinstance(v, str) else {x for x in _l_(v) if isinstance(x, str)}
                    if op == "includes_all" or (op == "includes" and len(vals) == 1):
                        has_tags |= vals
                    elif op == "not_includes":
                        lacks_tags |= vals
            if part == "all":
                for j, msg in C.contradictions([_d_(c) for c in _l_(conds.get("all"))],
                                               tier_ranks):
                    errs.append((f"{p}.conditions.all[{j}]", msg))
        errs.extend(_dead_alternatives(p, conds, tier_ranks))
        acts = _l_(trig.get("actions"))
        effective = 0
        added: set[str] = set()
        removed: set[str] = set()
        for j, a in enumerate(acts):
            a = _d_(a)
            ap = f"{p}.actions[{j}]"
            kind = a.get("action")
            for key in ("template", "public_template", "template_within", "template_above"):
                ref(f"{ap}.{key}", a.get(key), set(templates), "template")
            ref(f"{ap}.route", a.get("route"), routes, "on-call route")
            noop = None
            if kind == "escalate":
                to = a.get("to")
                if to != "up":
                    ref(f"{ap}.to", to, owners, "escalation target ('up', a tier or a team)")
                if to == "up" and pinned.get("tier") == top and top is not None:
                    noop = f"escalates 'up' but the conditions require the top tier '{top}'"
                elif isinstance(to, str) and (pinned.get("tier") == to or pinned.get("team") == to):
                    noop = f"escalates to '{to}' but the conditions require it is already there"
            elif kind == "set_priority" and pinned.get("priority") == a.get("priority") \
                    and a.get("priority") is not None:
                noop = f"sets priority '{a.get('priority')}' which the conditions require already"
            elif kind in ("add_tags", "remove_tags"):
                tags = {t for t in _l_(a.get("tags")) if isinstance(t, str)}
                (added if kind == "add_tags" else removed).update(tags)
                if tags and kind == "add_tags" and tags <= has_tags:
                    noop = f"adds {sorted(tags)} which the conditions require present"
                elif tags and kind == "remove_tags" and tags <= lacks_tags:
                    noop = f"removes {sorted(tags)} which the conditions require absent"
            if noop:
                errs.append((ap, f"does nothing: {noop}"))
            else:
                effective += 1
        both = added & removed
        if both:
            errs.append((f"{p}.actions", f"adds and removes the same tags {sorted(both)}"))
        if acts and effective == 0:
            errs.append((f"{p}.actions", "the trigger's actions do nothing"))
        if trig.get("enabled", True) is not False:
            norm.append((i, name if isinstance(name, str) else f"#{i}",
                         _canon(conds), _effects(acts)))
    ranks = {**tier_ranks, **{n: _d_(t).get("rank") for n, t in teams.items()
                              if isinstance(_d_(t).get("rank"), int)}}
    errs.extend(_pair_conflicts(norm, ranks))
    return errs


def _dead_alternatives(p: str, conds: Mapping[str, Any], tier_ranks: Mapping[str, int]
                       ) -> list[tuple[str, str]]:
    """`any` alternatives that contradict the `all` list can never be the reason to fire;
    when none can hold, the trigger is unreachable."""
    base = [_d_(c) for c in _l_(conds.get("all"))]
    alts = [_d_(c) for c in _l_(conds.get("any"))]
    if not base:
        return []
    out: list[tuple[str, str]] = []
    for k, alt in enumerate(alts):
        if any(j == len(base) for j, _ in C.contradictions(base + [alt], tier_ranks)):
            out.append((f"{p}.conditions.any[{k}]",
                        f"contradicts the `all` list on '{alt.get('field')}': this alternative "
                        f"can never hold, so it is unreachable"))
    if alts and len(out) == len(alts):
        out.append((f"{p}.conditions.any", "no alternative can hold together with the `all` "
                                           "list: the trigger can never fire"))
    return out


def _pair_conflicts(norm: Sequence[tuple[int, str, Any, Mapping[str, Any]]],
                    ranks: Mapping[str, int]) -> list[tuple[str, str]]:
    """Pairs of triggers that fire together and contradict each other. Two triggers fire
    together whenever one's conditions imply the other's (equal, or a superset of its `all`
    list). Then tags one adds and the other removes are an error; an escalation or a priority
    that the more general trigger always outranks (highest rank / priority wins) never takes
    effect, which is an error too; a more specific trigger that outranks the general one is the
    usual override and allowed."""
    out: list[tuple[str, str]] = []
    for x in range(len(norm)):
        for y in range(x + 1, len(norm)):
            i, n1, c1, e1 = norm[x]
            j, n2, c2, e2 = norm[y]
            if c1 == c2:
                why = _conflict(e1, e2)
                if why:
                    out.append((f"triggers[{j}]", f"contradicts triggers[{i}] ('{n1}'): same "
                                                  f"conditions but {why}"))
                continue
            for (gi, gn, gc, ge), (si, sn, sc, se) in (((i, n1, c1, e1), (j, n2, c2, e2)),
                                                       ((j, n2, c2, e2), (i, n1, c1, e1))):
                if not _implies(sc, gc):
                    continue
                clash = _tag_clash(ge, se)
                where = (f"triggers[{si}] ('{sn}') always fires together with triggers[{gi}] "
                         f"('{gn}'), whose conditions it includes, but ")
                if clash:
                    out.append((f"triggers[{si}]", where + f"one adds and the other removes "
                                                           f"tags {sorted(clash)}"))
                beaten = _outranked(se["to"], ge["to"], ranks, general_first=gi < si)
                if beaten:
                    out.append((f"triggers[{si}]", where + f"its escalation to {beaten} is "
                                f"always outranked by {sorted(ge['to'])}: it never takes effect"))
                if se["priority"] and ge["priority"] and \
                        top_priority(se["priority"]) != top_priority(se["priority"] | ge["priority"]):
                    out.append((f"triggers[{si}]", where + f"its priority {sorted(se['priority'])}"
                                f" is always outranked by {sorted(ge['priority'])}: it never "
                                f"takes effect"))
    return out


def _implies(specific: Mapping[str, set[str]], general: Mapping[str, set[str]]) -> bool:
    """Whenever `specific` holds, `general` holds (judged on the conditions' text)."""
    if not general["all"] <= specific["all"]:
        return False
    if not general["any"]:
        return True
    return bool(general["any"] & specific["all"]) or bool(
        specific["any"] and specific["any"] <= general["any"])


def _outranked(mine: set[str], theirs: set[str], ranks: Mapping[str, int], *,
               general_first: bool) -> str | None:
    if not mine or not theirs or mine & theirs or "up" in mine | theirs:
        return None
    if any(t not in ranks for t in mine | theirs):
        return None
    best_mine, best_theirs = max(ranks[t] for t in mine), max(ranks[t] for t in theirs)
    if best_theirs > best_mine or (best_theirs == best_mine and general_first):
        return str(sorted(mine))
    return None


def _canon(conds: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    def key(c):
        return json.dumps(c, sort_keys=True, default=str)
    return {k: frozenset(key(c) for c in _l_(conds.get(k))) for k in ("all", "any")}


def _effects(acts: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"add": set(), "remove": set(), "to": set(), "priority": set()}
    for a in acts:
        a = _d_(a)
        k = a.get("action")
        if k == "add_tags":
            out["add"].update(t for t in _l_(a.get("tags")) if isinstance(t, str))
        elif k == "remove_tags":
            out["remove"].update(t for t in _l_(a.get("tags")) if isinstance(t, str))
        elif k == "escalate" and isinstance(a.get("to"), str):
            out["to"].add(a["to"])
        elif k == "set_priority" and isinstance(a.get("priority"), str):
            out["priority"].add(a["priority"])
    return out


def _tag_clash(a: Mapping[str, Any], b: Mapping[str, Any]) -> set[str]:
    """Tags one trigger adds and the other removes."""
    return (a["add"] & b["remove"]) | (a["remove"] & b["add"])


def _conflict(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    if a["to"] and b["to"] and a["to"] != b["to"]:
        return f"escalates to {sorted(a['to'])} vs {sorted(b['to'])}"
    if a["priority"] and b["priority"] and a["priority"] != b["priority"]:
        return f"sets priority {sorted(a['priority'])} vs {sorted(b['priority'])}"
    clash = _tag_clash(a, b)
    if clash:
        return f"one adds and the other removes tags {sorted(clash)}"
    return None


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
def content_hash(doc: Mapping[str, Any]) -> str:
    canon = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()[:12]


def read_document(path_or_dict: Any) -> dict[str, Any]:
    """A manifest file (or dict) -> plain dict; unreadable / non-JSON -> ManifestError.
    A site file (``extends``) comes back merged over the shipped defaults (manifest_layers)."""
    if isinstance(path_or_dict, Mapping):
        return resolve(json.loads(json.dumps(path_or_dict)), read_json)
    path = Path(path_or_dict)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError([("", f"cannot read {path}: {exc.strerror or exc}")]) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError([("", f"not valid JSON: line {exc.lineno} column {exc.colno}: "
                                  f"{exc.msg}")]) from None
    if not isinstance(doc, dict):
        raise ManifestError([("", "the manifest must be a JSON object")])
    return resolve(doc, read_json)


def load_manifest(path_or_dict: Any) -> Manifest:
    """Validate and build the manifest; raises ManifestError with every error found."""
    doc = read_document(path_or_dict)
    errors: list[tuple[str, str]] = []
    data: dict[str, Any] | None = None
    try:
        data = ManifestSchema().load(doc)
    except ValidationError as exc:
        _flatten(exc.messages, ManifestSchema(), "", errors)
    errors.extend(_semantic(doc))
    if data is not None and not any(p.startswith(("sla", "calendars")) for p, _ in errors):
        errors.extend(check_references(data["sla"], data["calendars"]))
    if errors:
        seen: set[tuple[str, str]] = set()
        uniq = [e for e in errors if not (e in seen or seen.add(e))]
        raise ManifestError(uniq)
    assert data is not None
    return _build(doc, data)


def _build(doc: Mapping[str, Any], data: Mapping[str, Any]) -> Manifest:
    tiers = {n: Tier(name=n, **t) for n, t in sorted(data["tiers"].items(),
                                                      key=lambda kv: kv[1]["order"])}
    teams = {n: Team(name=n, **t) for n, t in data["teams"].items()}
    index: dict[int, tuple[str, str]] = {t.group_id: ("tier", n) for n, t in tiers.items()}
    index.update({t.group_id: ("team", n) for n, t in teams.items()})
    trigs = tuple(Trigger(name=t["name"], conditions=t["conditions"], actions=t["actions"],
                          description=t["description"], enabled=t["enabled"], index=i)
                  for i, t in enumerate(data["triggers"]))
    m = Manifest(
        version=content_hash(doc), label=data["version"], schema_url=data["schema_url"],
        changelog=data["changelog"], helpdesk=data["helpdesk"],
        tiers=MappingProxyType(tiers), teams=MappingProxyType(teams),
        authority=data["authority"],
        keywords=MappingProxyType({k: tuple(v) for k, v in data["keywords"].items()}),
        nlp=data["nlp"], calendars=MappingProxyType(dict(data["calendars"])), sla=data["sla"],
        oncall=data["oncall"], templates=MappingProxyType(dict(data["templates"])),
        triggers=trigs, review=data["review"], handoff=data["handoff"],
        risk_tags=MappingProxyType(dict(data["risk_tags"])), source=MappingProxyType(dict(doc)),
        group_index=MappingProxyType(index))
    program = compile_program(m)
    object.__setattr__(m, "program", program)
    object.__setattr__(m, "evaluate", C.compile_all([ct.group for ct in program]))
    return m


@dataclass(frozen=True)
class CompiledTrigger:
    trigger: Trigger
    group: C.Group
    has_timers: bool


def compile_program(m: Manifest) -> tuple[CompiledTrigger, ...]:
    out = []
    for t in m.triggers:
        if not t.enabled:
            continue
        group = C.compile_group({"all": [_cond_dict(c) for c in t.conditions.all],
                                 "any": [_cond_dict(c) for c in t.conditions.any]},
                                f"triggers[{t.index}].conditions", m)
        timed = any(c.flip_at is not None for c in group.all + group.any)
        out.append(CompiledTrigger(t, group, timed))
    return tuple(out)


def _cond_dict(c: Condition) -> dict[str, Any]:
    v = list(c.value) if isinstance(c.value, tuple) else c.value
    return {"field": c.field, "operator": c.operator, "value": v, **dict(c.params)}


def default_manifest_path() -> Path:
    from tiergate.plugin.data import path
    return path("manifest.json")


# --------------------------------------------------------------------------------------------
# JSON Schema from the same marshmallow schemas
# --------------------------------------------------------------------------------------------
def json_schema() -> dict[str, Any]:
    """Draft 2020-12 JSON Schema of the manifest, generated from the marshmallow schemas."""
    defs: dict[str, Any] = {}
    root = _schema_obj(ManifestSchema(), defs)
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "$id": "https://tiergate.dev/schema/manifest.json", "title": "tiergate manifest",
           "description": (ManifestSchema.__doc__ or "").strip(), **root, "$defs": defs}
    out["$defs"]["Action"]["allOf"] = [
        {"if": {"properties": {"action": {"const": k}}},
         "then": {"required": ["action"] + [p for p, req in v.items() if req],
                  "properties": {p: True for p in ["action", *v]},
                  "additionalProperties": False}} for k, v in ACTION_PARAMS.items()]
    out["$defs"]["Condition"]["properties"]["operator"]["enum"] = list(C.ALL_OPERATORS)
    metrics = "|".join(C.SLA_METRICS)
    out["$defs"]["Condition"]["properties"]["field"]["anyOf"] = [
        {"enum": sorted(C._STATIC)}, {"pattern": r"^custom\..+$"},
        {"pattern": r"^amount\.(" + "|".join(C.AMOUNT_KINDS) + ")$"},
        {"pattern": r"^sla\.(" + metrics + r")\.(pct_elapsed|breached|remaining_minutes|paused)$"}]
    out["$defs"]["Condition"]["allOf"] = [
        {"if": {"properties": {"field": {"const": name}}},
         "then": {"properties": {"operator": {"enum": list(C.field_spec(name).operators)}}}}
        for name in sorted(C._STATIC)]
    return site_file_schema(out)


def _schema_obj(schema: Schema, defs: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, f in schema.fields.items():
        key = f.data_key or name
        props[key] = _field_schema(f, defs)
        if f.required:
            required.append(key)
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _ref(schema: Schema, defs: dict[str, Any]) -> dict[str, Any]:
    name = type(schema).__name__.removesuffix("Schema") or type(schema).__name__
    if name not in defs:
        defs[name] = {}
        body = _schema_obj(schema, defs)
        doc = (type(schema).__doc__ or "").strip()
        if doc and not doc.startswith("Base"):
            body["description"] = doc.splitlines()[0]
        defs[name] = body
    return {"$ref": f"#/$defs/{name}"}


def _field_schema(f: fields.Field, defs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any]
    if isinstance(f, fields.Nested):
        out = _ref(f.schema, defs)
    elif isinstance(f, CalendarsField):
        from tiergate.plugin.core.sla_schema import CalendarSchema
        out = {"type": "object", "additionalProperties": _ref(CalendarSchema(), defs)}
    elif isinstance(f, fields.List):
        out = {"type": "array", "items": _field_schema(f.inner, defs)}
    elif isinstance(f, fields.Dict):
        vf = f.value_field
        out = {"type": "object", "additionalProperties": _field_schema(vf, defs) if vf else True}
        kf = f.key_field
        if kf is not None:
            pat = _pattern(kf)
            if pat:
                out["propertyNames"] = {"pattern": pat}
    elif isinstance(f, fields.Boolean):
        out = {"type": "boolean"}
    elif isinstance(f, fields.Integer):
        out = {"type": "integer"}
    elif isinstance(f, (fields.Float, fields.Number)):
        out = {"type": "number"}
    elif isinstance(f, fields.Date):
        out = {"type": "string", "format": "date"}
    elif isinstance(f, fields.String):
        out = {"type": "string"}
    else:
        out = {}
    for v in _validators(f):
        if isinstance(v, validate.OneOf):
            out["enum"] = list(v.choices)
        elif isinstance(v, validate.Range):
            if v.min is not None:
                out["minimum" if v.min_inclusive else "exclusiveMinimum"] = v.min
            if v.max is not None:
                out["maximum" if v.max_inclusive else "exclusiveMaximum"] = v.max
        elif isinstance(v, validate.Regexp):
            out["pattern"] = v.regex.pattern
        elif isinstance(v, validate.Length):
            lo, hi = ("minItems", "maxItems") if out.get("type") == "array" else \
                ("minProperties", "maxProperties") if out.get("type") == "object" else \
                ("minLength", "maxLength")
            if v.equal is not None:
                out[lo] = out[hi] = v.equal
            else:
                if v.min is not None:
                    out[lo] = v.min
                if v.max is not None:
                    out[hi] = v.max
    if f.allow_none and "$ref" not in out and "type" in out:
        out["type"] = [out["type"], "null"]
    desc = (f.metadata or {}).get("description")
    if desc:
        out = {**out, "description": desc} if "$ref" not in out else \
            {"allOf": [out], "description": desc}
    return out


def _validators(f: fields.Field) -> list[Any]:
    return list(getattr(f, "validators", []) or [])


def _pattern(f: fields.Field) -> str | None:
    for v in _validators(f):
        if isinstance(v, validate.Regexp):
            return v.regex.pattern
    return None


__all__ = ["Manifest", "Tier", "Team", "Authority", "Route", "Oncall", "Trigger", "Action",
           "Condition", "Conditions", "Helpdesk", "Nlp", "Review", "Changelog",
           "CompiledTrigger", "HandoffSettings", "load_manifest", "read_document", "content_hash",
           "default_manifest_path", "json_schema", "compile_program", "ManifestSchema",
           "ACTIONS", "ACTION_PARAMS"]
