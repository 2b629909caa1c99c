"""marshmallow schemas of the escalation manifest: structure, types, allowed values, defaults.

One schema per section (helpdesk, tiers / teams, authority, nlp, on-call, review, handoff,
conditions, actions, triggers); ``ManifestSchema`` composes them with the ``calendars`` / ``sla``
(``calendar_schema`` / ``sla_schema``) and ``risk_tags`` schemas. Loading a section yields its
frozen object (``manifest_model``); conditions are checked field by field
(``condition_checks.validate_condition``). The same schemas generate the JSON Schema
(``manifest_jsonschema``).
"""
from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

from marshmallow import (RAISE, Schema, ValidationError, fields, post_load, validate,
                         validates_schema)

from tiergate.plugin.core.calendar_schema import CalendarsField
from tiergate.plugin.core.condition_checks import validate_condition
from tiergate.plugin.core.condition_fields import (AMOUNT_KINDS, OPERATORS, PRIORITIES, UNITS,
                                                   field_names)
from tiergate.plugin.core.manifest_model import (Action, Authority, Changelog, Condition,
                                                 Conditions, HandoffSettings, Helpdesk, Nlp,
                                                 Oncall, Review, Route)
from tiergate.plugin.core.oncall_schema import CHANNEL_KINDS, ChannelSchema, SmtpSchema, check_target
from tiergate.plugin.core.risk_schema import risk_tags_field
from tiergate.plugin.core.sla_schema import SlaSchema

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
    score_field = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1),
                                metadata=_d("Ticket field the attention score is written to with "
                                            "each decision (Zendesk: the field id; Zammad: the "
                                            "attribute name); `tiergate install` sets it."))
    risk_field = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1),
                               metadata=_d("Ticket field the risk tags are written to with each "
                                           "decision (space-separated); `tiergate install` sets it."))
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
        "What to test: " + ", ".join(field_names())))
    operator = fields.String(required=True, metadata=_d(
        "Allowed operators depend on the field's type: " + "; ".join(
            f"{t}: {', '.join(ops)}" for t, ops in OPERATORS.items())))
    value = fields.Raw(allow_none=True, metadata=_d("Expected value (type per field)."))
    unit = fields.String(validate=validate.OneOf(tuple(UNITS)),
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
        errors = validate_condition(data)
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
    priority = fields.String(validate=validate.OneOf(PRIORITIES), metadata=_d("New priority."))
    route = fields.String(metadata=_d("An `oncall.routes` key."))
    amount = fields.Float(allow_nan=False, validate=validate.Range(min=0),
                          metadata=_d("goodwill_credit: suggested amount."))
    kinds = _Tuple(fields.String(validate=validate.OneOf(AMOUNT_KINDS)),
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
