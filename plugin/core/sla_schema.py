"""marshmallow schemas for the manifest's ``calendars`` and ``sla`` keys -> frozen objects.

Composition (manifest.py): ``calendars = CalendarsField()`` (a dict name -> ``Calendar``) and
``sla = fields.Nested(SlaSchema)`` (-> ``SlaConfig``). Field errors come back as marshmallow's
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
        "policies": [{"name": "urgent", "match": {"priorities": ["urgent"], "segments": []},
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

from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import (RAISE, Schema, ValidationError, fields, post_load, validate,
                         validates_schema)

from tiergate.plugin.core.calendar import (Calendar, WeeklyInterval, parse_clock, parse_days,
                                           split_interval, zendesk_interval)

METRICS = ("first_reply_time", "next_reply_time", "periodic_update_time", "pausable_update_time",
           "requester_wait_time", "agent_work_time", "resolution_time")
COMMITMENT_METRICS = ("acknowledgement", "response_window")
PRIORITIES = ("low", "normal", "high", "urgent", "none")
PAUSE_STATUSES = ("new", "open", "pending", "hold")
DEFAULT_PAUSE_ON: Mapping[str, tuple[str, ...]] = {
    "requester_wait_time": ("pending",),   # on-hold waits on a third party: the requester waits
}
DEFAULT_PAUSE = ("pending", "hold")


# -- frozen objects ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    """Which tickets a policy covers; an empty tuple matches anything (``none`` = unset)."""

    priorities: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricTarget:
    metric: str
    target_minutes: float
    business_hours: bool = False
    calendar: str | None = None
    pause_on: tuple[str, ...] | None = None      # None: the metric's default
    warn_at: tuple[int, ...] | None = None       # None: the policy's / sla's

    def pauses(self) -> tuple[str, ...]:
        if self.pause_on is not None:
            return self.pause_on
        return DEFAULT_PAUSE_ON.get(self.metric, DEFAULT_PAUSE)


@dataclass(frozen=True)
class TightenWhen:
    """All given keys must hold."""

    segments: tuple[str, ...] = ()
    vip: bool | None = None
    renewal_within_days: float | None = None
    attention_score_above: float | None = None
    account_value_above: float | None = None
    priorities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tighten:
    when: TightenWhen
    factor: float | None = None                  # target * factor
    target_minutes: float | None = None          # or an absolute target
    metrics: tuple[str, ...] = ()                # empty: every metric of the policy
    name: str = ""


@dataclass(frozen=True)
class Policy:
    name: str
    metrics: tuple[MetricTarget, ...]
    match: Match = Match()
    tighten: tuple[Tighten, ...] = ()
    calendar: str | None = None
    warn_at: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Commitments:
    """Targets of promises made by tiergate's public notes (see ``sla.commitment_marker``)."""

    acknowledgement: float = 30.0
    response_window: float = 120.0
    business_hours: bool = False
    calendar: str | None = None

    def target(self, kind: str) -> float:
        return self.acknowledgement if kind == "acknowledgement" else self.response_window


@dataclass(frozen=True)
class SlaConfig:
    policies: tuple[Policy, ...] = ()
    warn_at: tuple[int, ...] = (75,)
    default_calendar: str | None = None
    commitments: Commitments = Commitments()


# -- fields and schemas --------------------------------------------------------------------------
def _positive(value: float) -> bool:
    if value != value or value <= 0 or value == float("inf"):  # NaN / inf / non-positive
        raise ValidationError("must be a positive number of minutes")
    return True


def _time_zone(value: str) -> bool:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError(f"unknown time zone '{value}' (IANA name, e.g. Europe/Berlin)")
    return True


class DaysField(fields.Field):
    """``"mon"``, ``"mon-fri"``, ``["sat", "sun"]`` -> tuple of weekdays (0 = Monday)."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_days(value)
        except (ValueError, TypeError) as exc:
            raise ValidationError(str(exc)) from None


class ClockField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_clock(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class WarnAtField(fields.List):
    def __init__(self, **kwargs):
        super().__init__(fields.Integer(strict=True, validate=validate.Range(1, 99)),
                         validate=validate.Length(min=0, max=10), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return tuple(sorted(set(super()._deserialize(value, attr, data, **kwargs))))


def _tuple_list(inner: fields.Field, **kwargs) -> fields.Field:
    return _TupleList(inner, **kwargs)


class _TupleList(fields.List):
    def _deserialize(self, value, attr, data, **kwargs):
        return tuple(super()._deserialize(value, attr, data, **kwargs))


class IntervalSchema(Schema):
    """Either ``{day, start, end}`` (``end <= start`` crosses midnight) or Zendesk's
    ``{start_time, end_time}`` in minutes since Sunday 00:00."""

    class Meta:
        unknown = RAISE

    day = DaysField(metadata={"description": "mon..sun, a range mon-fri, or a list"})
    start = ClockField(metadata={"description": "HH:MM or HH:MM:SS local time"})
    end = ClockField(metadata={"description": "HH:MM or HH:MM:SS; 24:00 = midnight"})
    start_time = fields.Integer(strict=True, validate=validate.Range(0, 10080))
    end_time = fields.Integer(strict=True, validate=validate.Range(0, 10080))

    @validates_schema
    def _shape(self, data, **kwargs):
        weekly = {"day", "start", "end"} & data.keys()
        zendesk = {"start_time", "end_time"} & data.keys()
        if weekly and zendesk:
            raise ValidationError("use either day/start/end or start_time/end_time, not both")
        if zendesk:
            for key in ("start_time", "end_time"):
                if key not in data:
                    raise ValidationError("missing (minutes since Sunday 00:00)", key)
            if data["end_time"] <= data["start_time"]:
                raise ValidationError("must be after start_time", "end_time")
            return
        for key in ("day", "start", "end"):
            if key not in data:
                raise ValidationError("missing (or give start_time/end_time)", key)
        if data["start"] == data["end"]:
            raise ValidationError("must differ from start", "end")

    @post_load
    def _make(self, data, **kwargs) -> tuple[WeeklyInterval, ...]:
        if "start_time" in data:
            return tuple(zendesk_interval(data["start_time"], data["end_time"]))
        out: list[WeeklyInterval] = []
        for d in data["day"]:
            out.extend(split_interval(d, data["start"], data["end"]))
        return tuple(out)


class HolidaysSchema(Schema):
    class Meta:
        unknown = RAISE

    country = fields.String(metadata={"description": "ISO 3166 code known to `holidays`"})
    subdivision = fields.String()
    dates = _tuple_list(fields.Date(), load_default=())

    @validates_schema
    def _country(self, data, **kwargs):
        country = data.get("country")
        if "subdivision" in data and not country:
            raise ValidationError("a subdivision needs a country", "subdivision")
        if not country:
            return
        import holidays

        supported = holidays.list_supported_countries()
        if country not in supported:
            raise ValidationError(f"unknown country '{country}' (an ISO 3166-1 alpha-2 code the "
                                  f"holidays package supports, e.g. DE, US, GB, FR)", "country")
        sub = data.get("subdivision")
        if sub is not None and sub not in supported[country]:
            allowed = ", ".join(supported[country]) or "none"
            raise ValidationError(f"unknown subdivision '{sub}' of {country}; allowed: {allowed}",
                                  "subdivision")


class CalendarSchema(Schema):
    class Meta:
        unknown = RAISE

    time_zone = fields.String(required=True, validate=_time_zone)
    intervals = _tuple_list(fields.Nested(IntervalSchema), load_default=())
    holidays = fields.Nested(HolidaysSchema, load_default=None)
    always_open = fields.Boolean(load_default=False)

    @validates_schema
    def _some_time(self, data, **kwargs):
        if not data.get("always_open") and not data.get("intervals"):
            raise ValidationError("a calendar needs intervals (or always_open: true)", "intervals")
        if data.get("always_open") and data.get("intervals"):
            raise ValidationError("always_open calendars take no intervals", "intervals")

    @post_load
    def _make(self, data, **kwargs) -> Calendar:
        hol = data.get("holidays") or {}
        pieces = tuple(iv for group in data["intervals"] for iv in group)
        return Calendar(name="", time_zone=data["time_zone"], intervals=pieces,
                        holiday_dates=frozenset(hol.get("dates", ())),
                        holiday_country=hol.get("country"),
                        holiday_subdivision=hol.get("subdivision"),
                        always_open=data["always_open"])


class CalendarsField(fields.Field):
    """The ``calendars`` key: ``{name: calendar}`` -> ``dict[str, Calendar]``."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, Mapping):
            raise ValidationError("must be an object mapping calendar names to calendars")
        out: dict[str, Calendar] = {}
        errors: dict[str, Any] = {}
        for name, spec in value.items():
            try:
                cal = CalendarSchema().load(spec)
            except ValidationError as exc:
                errors[name] = exc.messages
                continue
            out[name] = Calendar(name=name, time_zone=cal.time_zone, intervals=cal.intervals,
                                 holiday_dates=cal.holiday_dates,
                                 holiday_country=cal.holiday_country,
                                 holiday_subdivision=cal.holiday_subdivision,
                                 always_open=cal.always_open)
        if errors:
            raise ValidationError(errors)
        return out


class MatchSchema(Schema):
    class Meta:
        unknown = RAISE

    priorities = _tuple_list(fields.String(validate=validate.OneOf(PRIORITIES)), load_default=())
    segments = _tuple_list(fields.String(validate=validate.Length(min=1)), load_default=())

    @post_load
    def _make(self, data, **kwargs) -> Match:
        return Match(priorities=data["priorities"],
                     segments=tuple(s.lower() for s in data["segments"]))


class MetricSchema(Schema):
    class Meta:
        unknown = RAISE

    metric = fields.String(required=True, validate=validate.OneOf(METRICS))
    target_minutes = fields.Float(required=True, allow_nan=False, validate=_positive)
    business_hours = fields.Boolean(load_default=False)
    calendar = fields.String(load_default=None, allow_none=True)
    pause_on = _tuple_list(fields.String(validate=validate.OneOf(PAUSE_STATUSES)),
                           load_default=None, allow_none=True)
    warn_at = WarnAtField(load_default=None, allow_none=True)

    @post_load
    def _make(self, data, **kwargs) -> MetricTarget:
        return MetricTarget(**data)


class WhenSchema(Schema):
    class Meta:
        unknown = RAISE

    segment = fields.String(validate=validate.Length(min=1))
    segments = _tuple_list(fields.String(validate=validate.Length(min=1)))
    vip = fields.Boolean()
    renewal_within_days = fields.Float(allow_nan=False, validate=validate.Range(min=0))
    attention_score_above = fields.Float(allow_nan=False, validate=validate.Range(0, 100))
    account_value_above = fields.Float(allow_nan=False, validate=validate.Range(min=0))
    priorities = _tuple_list(fields.String(validate=validate.OneOf(PRIORITIES)))

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
    metrics = _tuple_list(fields.String(validate=validate.OneOf(METRICS)), load_default=())

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
    metrics = _tuple_list(fields.Nested(MetricSchema), required=True,
                          validate=validate.Length(min=1))
    tighten = _tuple_list(fields.Nested(TightenSchema), load_default=())
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
    policies = _tuple_list(fields.Nested(PolicySchema), load_default=())
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


# -- errors and cross-references -----------------------------------------------------------------
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


def policy_calendar_name(sla: SlaConfig, policy: Policy | None,
                         metric: MetricTarget | None) -> str | None:
    """The calendar a business-hours metric uses: metric's, else policy's, else the default."""
    return ((metric.calendar if metric else None) or (policy.calendar if policy else None)
            or sla.default_calendar)


__all__ = [
    "METRICS", "COMMITMENT_METRICS", "PRIORITIES", "PAUSE_STATUSES", "Match", "MetricTarget",
    "TightenWhen", "Tighten", "Policy", "Commitments", "SlaConfig", "IntervalSchema",
    "HolidaysSchema", "CalendarSchema", "CalendarsField", "MatchSchema", "MetricSchema",
    "WhenSchema", "TightenSchema", "PolicySchema", "CommitmentsSchema", "SlaSchema",
    "error_pairs", "check_references", "load_sections", "policy_calendar_name",
]
