"""marshmallow schemas for the manifest's ``calendars`` key -> ``Calendar`` objects.

``CalendarsField`` loads ``{name: calendar}``; each calendar is weekly intervals
(``{day, start, end}``, or Zendesk's ``{start_time, end_time}`` in minutes since Sunday) in an
IANA time zone, minus holidays (a country / subdivision known to ``holidays`` and explicit
dates), or ``always_open``.
"""
from __future__ import annotations

from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from tiergate.plugin.core.calendar import (Calendar, WeeklyInterval, parse_clock, parse_days,
                                           split_interval, zendesk_interval)


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


def tuple_list(inner: fields.Field, **kwargs) -> fields.Field:
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
    dates = tuple_list(fields.Date(), load_default=())

    @validates_schema
    def _country(self, data, **kwargs):
        country = data.get("country")
        if "subdivision" in data and not country:
            raise ValidationError("a subdivision needs a country", "subdivision")
        if not country:
            return
        import holidays  # ~60 ms to import; only calendars naming a country need it

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
    intervals = tuple_list(fields.Nested(IntervalSchema), load_default=())
    holidays = fields.Nested(HolidaysSchema, load_default=None)
    always_open = fields.Boolean(load_default=False)
    schedule_id = fields.Integer(strict=True, allow_none=True, load_default=None, metadata={
        "description": "The desk's business-hours schedule this calendar mirrors (Zendesk "
                       "schedule id); `tiergate check --against-desk` checks that it exists."})

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
