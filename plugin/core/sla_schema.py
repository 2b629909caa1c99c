"""marshmallow schemas for the manifest's ``sla`` key -> ``SlaConfig``, and the SLA's references.

Composition (manifest_schema.py): ``calendars = CalendarsField()`` (``calendar_schema``: a dict
name -> ``Calendar``) and ``sla = fields.Nested(SlaSchema)`` (-> ``SlaConfig``, ``sla_config``).
Field errors come back as marshmallow's
nested ``ValidationError.messages``; ``error_pairs(messages, prefix)`` flattens them into
``(json_path, message)`` pairs (``sla.policies[0].metrics[1].target_minutes``). References
between the two keys (a metric's calendar must exist; business hours need a calendar) are checked
by ``check_references(sla, calendar_names)``. ``load_sections(doc)`` does all of it at once.

Shapes (see README / manifest.json for a full example)::

    "calendars": {"support_eu": {"time_zone": "Europe/Berlin",
        "intervals": [{"day": "mon-fri", "start": "09:00", "end": "17:00"},
                      {"start_time": 1980, "end_time": 2460}],      # Zendesk: minutes since Sun
        "holidays": {"country": "DE", "subdivision": "BE", "dates": ["2024-12-24"]}},
        "always": {"time_zone": "UTC", "always_open": true}}
    "sla": {"warn_at": [75], "default_calendar": "support_eu",
        "policies": [{"name": "urgent", "match": {"priorities": ["urgent"], "segments": [],
                # optional, all must hold: "groups"/"not_groups", "organizations"/"not_organizations"
                # (ids), "types"/"not_types", "channels"/"not_channels", "tags_any", "tags_none",
                # "fields": {"<custom field key>": ["value", ...]}  (sla_match.covers)
                },
            "metrics": [{"metric": "first_reply_time", "target_minutes": 30,
                         "business_hours": false, "calendar": null, "pause_on": ["pending", "hold"],
                         "warn_at": [50, 75]}],
            "tighten": [{"name": "vip", "when": {"vip": true}, "factor": 0.5},
                        {"when": {"renewal_within_days": 30}, "target_minutes": 20,
                         "metrics": ["first_reply_time"]}]}],
        "commitments": {"acknowledgement": 30, "response_window": 120,
                        "business_hours": false, "calendar": null}}
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from tiergate.plugin.core.calendar import Calendar
from tiergate.plugin.core.calendar_schema import CalendarsField, tuple_list
from tiergate.plugin.core.sla_config import (METRICS, PAUSE_STATUSES, PRIORITIES, Commitments,
                                             Match, MetricTarget, Policy, SlaConfig, Tighten,
                                             TightenWhen)
from tiergate.plugin.core.sla_match import field_text


def _positive(value: float) -> bool:
    if value != value or value <= 0 or value == float("inf"):  # NaN / inf / non-positive
        raise ValidationError("must be a positive number of minutes")
    return True


class WarnAtField(fields.List):
    def __init__(self, **kwargs):
        super().__init__(fields.Integer(strict=True, validate=validate.Range(1, 99)),
                         validate=validate.Length(min=0, max=10), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return tuple(sorted(set(super()._deserialize(value, attr, data, **kwargs))))


class MatchSchema(Schema):
    class Meta:
        unknown = RAISE

    priorities = tuple_list(fields.String(validate=validate.OneOf(PRIORITIES)), load_default=())
    segments = tuple_list(fields.String(validate=validate.Length(min=1)), load_default=())
    groups = tuple_list(fields.Integer(strict=True), load_default=())
    not_groups = tuple_list(fields.Integer(strict=True), load_default=())
    organizations = tuple_list(fields.Integer(strict=True), load_default=())
    not_organizations = tuple_list(fields.Integer(strict=True), load_default=())
    types = tuple_list(fields.String(validate=validate.Length(min=1)), load_default=())
    not_types = tuple_list(fields.String(validate=validate.Length(min=1)), load_default=())
    channels = tuple_list(fields.String(validate=validate.Length(min=1)), load_default=())
    not_channels = tuple_list(fields.String(validate=validate.Length(min=1)), load_default=())
    tags_any = tuple_list(fields.String(validate=validate.Length(min=1)), load_default=())
    tags_none = tuple_list(fields.String(validate=validate.Length(min=1)), load_default=())
    fields = fields.Dict(keys=fields.String(validate=validate.Length(min=1)),
                         values=fields.List(fields.Raw(), validate=validate.Length(min=1)),
                         load_default=dict)

    @post_load
    def _make(self, data, **kwargs) -> Match:
        low = ("segments", "types", "not_types", "channels", "not_channels")
        out = {k: tuple(v.lower() for v in data[k]) if k in low else data[k]
               for k in data if k != "fields"}
        out["fields"] = tuple(sorted((k, tuple(field_text(x) for x in v)) for k, v in data["fields"].items()))
        return Match(**out)


class MetricSchema(Schema):
    class Meta:
        unknown = RAISE

    metric = fields.String(required=True, validate=validate.OneOf(METRICS))
    target_minutes = fields.Float(required=True, allow_nan=False, validate=_positive)
    business_hours = fields.Boolean(load_default=False)
    calendar = fields.String(load_default=None, allow_none=True)
    pause_on = tuple_list(fields.String(validate=validate.OneOf(PAUSE_STATUSES)),
                           load_default=None, allow_none=True)
    warn_at = WarnAtField(load_default=None, allow_none=True)

    @post_load
    def _make(self, data, **kwargs) -> MetricTarget:
        return MetricTarget(**data)


class WhenSchema(Schema):
    class Meta:
        unknown = RAISE

    segment = fields.String(validate=validate.Length(min=1))
    segments = tuple_list(fields.String(validate=validate.Length(min=1)))
    vip = fields.Boolean()
    renewal_within_days = fields.Float(allow_nan=False, validate=validate.Range(min=0))
    attention_score_above = fields.Float(allow_nan=False, validate=validate.Range(0, 100))
    account_value_above = fields.Float(allow_nan=False, validate=validate.Range(min=0))
    priorities = tuple_list(fields.String(validate=validate.OneOf(PRIORITIES)))

    @validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("give at least one of: " + ", ".join(self.fields))

    @post_load
    def _make(self, data, **kwargs) -> TightenWhen:
        segs = tuple(data.get("segments", ())) + ((data["segment"],) if "segment" in data else ())
        return TightenWhen(segments=tuple(s.lower() for s in segs), vip=data.get("vip"),
                           renewal_within_days=data.get("renewal_within_days"),
                           attention_score_above=data.get("attention_score_above"),
                           account_value_above=data.get("account_value_above"),
                           priorities=data.get("priorities", ()))


class TightenSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(load_default="")
    when = fields.Nested(WhenSchema, required=True)
    factor = fields.Float(allow_nan=False, validate=validate.Range(0, 1, min_inclusive=False))
    target_minutes = fields.Float(allow_nan=False, validate=_positive)
    metrics = tuple_list(fields.String(validate=validate.OneOf(METRICS)), load_default=())

    @validates_schema
    def _one(self, data, **kwargs):
        if ("factor" in data) == ("target_minutes" in data):
            raise ValidationError("give exactly one of factor (0 < f <= 1) or target_minutes",
                                  "factor")

    @post_load
    def _make(self, data, **kwargs) -> Tighten:
        return Tighten(**data)


class PolicySchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1))
    match = fields.Nested(MatchSchema, load_default=None)
    metrics = tuple_list(fields.Nested(MetricSchema), required=True,
                          validate=validate.Length(min=1))
    tighten = tuple_list(fields.Nested(TightenSchema), load_default=())
    calendar = fields.String(load_default=None, allow_none=True)
    warn_at = WarnAtField(load_default=None, allow_none=True)

    @validates_schema
    def _unique_metrics(self, data, **kwargs):
        seen: set[str] = set()
        for i, m in enumerate(data.get("metrics", ())):
            if m.metric in seen:
                raise ValidationError({i: {"metric": [f"'{m.metric}' appears twice in this "
                                                      f"policy"]}}, "metrics")
            seen.add(m.metric)
        names = {m.metric for m in data.get("metrics", ())}
        for i, t in enumerate(data.get("tighten", ())):
            for j, metric in enumerate(t.metrics):
                if metric not in names:
                    raise ValidationError({i: {"metrics": {j: [
                        f"'{metric}' is not a metric of this policy; allowed: "
                        f"{', '.join(sorted(names))}"]}}}, "tighten")

    @post_load
    def _make(self, data, **kwargs) -> Policy:
        data["match"] = data.get("match") or Match()
        return Policy(**data)


class CommitmentsSchema(Schema):
    class Meta:
        unknown = RAISE

    acknowledgement = fields.Float(load_default=30.0, allow_nan=False, validate=_positive)
    response_window = fields.Float(load_default=120.0, allow_nan=False, validate=_positive)
    business_hours = fields.Boolean(load_default=False)
    calendar = fields.String(load_default=None, allow_none=True)

    @post_load
    def _make(self, data, **kwargs) -> Commitments:
        return Commitments(**data)


class SlaSchema(Schema):
    class Meta:
        unknown = RAISE

    warn_at = WarnAtField(load_default=(75,))
    default_calendar = fields.String(load_default=None, allow_none=True)
    policies = tuple_list(fields.Nested(PolicySchema), load_default=())
    commitments = fields.Nested(CommitmentsSchema, load_default=None)

    @validates_schema
    def _unique_names(self, data, **kwargs):
        seen: set[str] = set()
        for i, p in enumerate(data.get("policies", ())):
            if p.name in seen:
                raise ValidationError({i: {"name": [f"policy name '{p.name}' is used twice"]}},
                                      "policies")
            seen.add(p.name)

    @post_load
    def _make(self, data, **kwargs) -> SlaConfig:
        data["commitments"] = data.get("commitments") or Commitments()
        return SlaConfig(**data)


def error_pairs(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested messages -> ``[(json_path, message)]``; ``_schema`` adds no segment."""
    out: list[tuple[str, str]] = []
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "_schema":
                path = prefix
            elif isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.extend(error_pairs(value, path))
    elif isinstance(messages, (list, tuple)):
        for value in messages:
            out.extend(error_pairs(value, prefix))
    else:
        out.append((prefix, str(messages)))
    return out


def check_references(sla: SlaConfig, calendar_names: Iterable[str],
                     prefix: str = "sla") -> list[tuple[str, str]]:
    """Calendars named by the SLA exist, and every business-hours clock has a calendar."""
    names = set(calendar_names)
    allowed = ", ".join(sorted(names)) or "(no calendars defined)"
    errors: list[tuple[str, str]] = []

    def ref(path: str, name: str | None) -> None:
        if name is not None and name not in names:
            errors.append((path, f"unknown calendar '{name}'; allowed: {allowed}"))

    ref(f"{prefix}.default_calendar", sla.default_calendar)
    ref(f"{prefix}.commitments.calendar", sla.commitments.calendar)
    if sla.commitments.business_hours and not (sla.commitments.calendar or sla.default_calendar):
        errors.append((f"{prefix}.commitments.business_hours",
                       "business hours need a calendar (commitments.calendar or "
                       "sla.default_calendar)"))
    for i, policy in enumerate(sla.policies):
        ref(f"{prefix}.policies[{i}].calendar", policy.calendar)
        for j, m in enumerate(policy.metrics):
            path = f"{prefix}.policies[{i}].metrics[{j}]"
            ref(f"{path}.calendar", m.calendar)
            if m.business_hours and not (m.calendar or policy.calendar or sla.default_calendar):
                errors.append((f"{path}.business_hours", "business hours need a calendar "
                               "(metric.calendar, policy.calendar or sla.default_calendar)"))
    return errors


def load_sections(doc: Mapping[str, Any]) -> tuple[dict[str, Calendar], SlaConfig,
                                                   list[tuple[str, str]]]:
    """Load ``doc["calendars"]`` and ``doc["sla"]`` (both optional) with every error found."""
    errors: list[tuple[str, str]] = []
    calendars: dict[str, Calendar] = {}
    sla = SlaConfig()
    try:
        calendars = CalendarsField().deserialize(doc.get("calendars", {}))
    except ValidationError as exc:
        errors.extend(error_pairs(exc.messages, "calendars"))
    try:
        sla = SlaSchema().load(doc.get("sla", {}))
    except ValidationError as exc:
        errors.extend(error_pairs(exc.messages, "sla"))
    else:
        if not any(p.startswith("calendars") for p, _ in errors):
            errors.extend(check_references(sla, calendars))
    return calendars, sla, errors
