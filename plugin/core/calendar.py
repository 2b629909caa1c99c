"""Business-hours calendars: weekly open intervals in a time zone, minus holidays.

Pure arithmetic: no clock reads, no I/O. Every instant is handled internally as an integer number
of microseconds since the Unix epoch (UTC), so business time is exact and
``business_minutes(a, add_business_minutes(a, m)) == m`` holds to the microsecond.

How wall time becomes instants: each weekly interval belongs to one local date and lies inside
``[00:00, 24:00]`` of that date (intervals crossing midnight are split when the calendar is
built). Its ends are localised with zoneinfo, ``fold=0``: a wall time that a spring-forward gap
skips maps to the instant just after the gap (Berlin 02:30 on the last Sunday of March =
03:30 CEST), an ambiguous fall-back time maps to its first occurrence. Business time is then the
real elapsed time inside those instants, so a 00:00-24:00 day lasts 23 h or 25 h on DST days.
A holiday closes the whole local date. The walk is per open interval (cached per local date),
never per minute.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Iterator, Mapping
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
US = 1_000_000                   # microseconds per second
MINUTE_US = 60 * US
DAY_SECONDS = 86_400
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_CLOSED_DAYS = 800            # a calendar closed that long is treated as never opening
_CACHE_LIMIT = 50_000
_MERGE_LIMIT_US = 14 * 86_400 * 1_000_000   # adjacent spans merge up to two weeks (next_close)


def to_us(at: datetime) -> int:
    """Aware datetime -> microseconds since the epoch (naive datetimes are taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    d = at - EPOCH
    return (d.days * 86_400 + d.seconds) * US + d.microseconds


def from_us(us: int) -> datetime:
    """Microseconds since the epoch -> aware UTC datetime."""
    return EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True)
class WeeklyInterval:
    """Open from ``start`` to ``end`` seconds after local midnight on ``weekday`` (0 = Monday)."""

    weekday: int
    start: int
    end: int

    def __post_init__(self):
        if not (0 <= self.weekday <= 6 and 0 <= self.start < self.end <= DAY_SECONDS):
            raise ValueError(f"bad interval {self!r}")


_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_clock(text: str) -> int:
    """``"HH:MM"`` or ``"HH:MM:SS"`` (``"24:00"`` allowed) -> seconds after midnight."""
    m = _TIME_RE.match(str(text).strip())
    if not m:
        raise ValueError(f"'{text}' is not a time of day HH:MM or HH:MM:SS")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if mi > 59 or s > 59 or h > 24 or (h == 24 and (mi or s)):
        raise ValueError(f"'{text}' is not a time of day between 00:00 and 24:00")
    return h * 3600 + mi * 60 + s


def parse_days(spec: Any) -> tuple[int, ...]:
    """``"mon"``, ``"mon-fri"``, ``"sat,sun"``, ``["mon", "tue"]`` or 0-6 -> weekdays (0 = Mon)."""
    if isinstance(spec, (list, tuple)):
        out: list[int] = []
        for item in spec:
            out.extend(parse_days(item))
        return tuple(dict.fromkeys(out))
    if isinstance(spec, int) and not isinstance(spec, bool):
        if 0 <= spec <= 6:
            return (spec,)
        raise ValueError(f"day {spec} is not 0 (Monday) .. 6 (Sunday)")
    text = str(spec).strip().lower()
    if "," in text:
        return parse_days([p for p in text.split(",") if p.strip()])
    if "-" in text:
        first, last = (p.strip()[:3] for p in text.split("-", 1))
        if first not in DAY_NAMES or last not in DAY_NAMES:
            raise ValueError(f"'{spec}' is not a day range like mon-fri")
        a, b = DAY_NAMES.index(first), DAY_NAMES.index(last)
        return tuple((a + i) % 7 for i in range(((b - a) % 7) + 1))
    if text[:3] in DAY_NAMES and (len(text) == 3 or text in _LONG_DAYS):
        return (DAY_NAMES.index(text[:3]),)
    raise ValueError(f"'{spec}' is not a day; use one of {', '.join(DAY_NAMES)} or a range mon-fri")


_LONG_DAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


def split_interval(weekday: int, start: int, end: int) -> list[WeeklyInterval]:
    """An interval that may end past midnight (``end <= start`` or ``end > 24 h``) -> pieces."""
    if end <= start:
        end += DAY_SECONDS
    pieces: list[WeeklyInterval] = []
    day, s = weekday, start
    while end > 0 and s < end:
        e = min(end, DAY_SECONDS)
        if e > s:
            pieces.append(WeeklyInterval(day % 7, s, e))
        end -= DAY_SECONDS
        s = 0
        day += 1
    return pieces


def zendesk_interval(start_time: int, end_time: int) -> list[WeeklyInterval]:
    """Zendesk schedule interval in minutes since Sunday 00:00 -> weekly pieces."""
    pieces: list[WeeklyInterval] = []
    m = start_time
    while m < end_time:
        day_index = (m // 1440) % 7                     # 0 = Sunday
        day_end = (m // 1440 + 1) * 1440
        e = min(end_time, day_end)
        weekday = (day_index + 6) % 7
        pieces.append(WeeklyInterval(weekday, (m % 1440) * 60, (e - (m // 1440) * 1440) * 60))
        m = e
    return pieces


@dataclass(frozen=True, eq=False)
class Calendar:
    """Weekly open intervals in ``time_zone`` minus holidays (country via ``holidays``, explicit
    dates). ``always_open`` makes a 24/7 calendar (calendar-time clocks use one)."""

    name: str = "24/7"
    time_zone: str = "UTC"
    intervals: tuple[WeeklyInterval, ...] = ()
    holiday_dates: frozenset[date] = frozenset()
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    always_open: bool = False
    _state: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        tz = ZoneInfo(self.time_zone)
        by_day: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for iv in self.intervals:
            by_day[iv.weekday].append((iv.start, iv.end))
        merged = []
        for spans in by_day:
            spans.sort()
            out: list[list[int]] = []
            for s, e in spans:
                if out and s <= out[-1][1]:
                    out[-1][1] = max(out[-1][1], e)
                else:
                    out.append([s, e])
            merged.append(tuple((s, e) for s, e in out))
        country = None
        if self.holiday_country:
            import holidays  # ~60 ms to import; only calendars naming a country need it

            country = holidays.country_holidays(self.holiday_country,
                                                subdiv=self.holiday_subdivision)
        self._state.update(tz=tz, by_day=tuple(merged), country=country, days={},
                           utc=self.time_zone in ("UTC", "Etc/UTC"))

    # -- construction helpers --------------------------------------------------------------------
    @classmethod
    def always(cls, name: str = "24/7") -> "Calendar":
        return cls(name=name, always_open=True)

    @classmethod
    def weekly(cls, time_zone: str, hours: Mapping[Any, Any], *, name: str = "business",
               holidays: Iterable[date | str] = (), country: str | None = None,
               subdivision: str | None = None) -> "Calendar":
        """``Calendar.weekly("Europe/Berlin", {"mon-fri": "09:00-17:00", "sat": ["10:00-12:00"]})``."""
        pieces: list[WeeklyInterval] = []
        for days, spans in hours.items():
            for span in ([spans] if isinstance(spans, str) else spans):
                start, end = (parse_clock(p) for p in span.split("-", 1))
                for d in parse_days(days):
                    pieces.extend(split_interval(d, start, end))
        dates = frozenset(d if isinstance(d, date) else date.fromisoformat(d) for d in holidays)
        return cls(name=name, time_zone=time_zone, intervals=tuple(pieces), holiday_dates=dates,
                   holiday_country=country, holiday_subdivision=subdivision)

    # -- public API ------------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        """The calendar's time zone (for rendering local times such as "by 14:00 CET")."""
        return self._state["tz"]

    def is_holiday(self, day: date) -> bool:
        if day in self.holiday_dates:
            return True
        country = self._state["country"]
        return country is not None and day in country

    def is_open(self, at: datetime) -> bool:
        if self.always_open:
            return True
        t = to_us(at)
        for s, e in self.spans_from(t):
            return s <= t
        return False

    def business_seconds(self, a: datetime, b: datetime) -> float:
        return self.business_us(to_us(a), to_us(b)) / US

    def business_minutes(self, a: datetime, b: datetime) -> float:
        """Open time between ``a`` and ``b`` in minutes (negative when ``b`` is before ``a``)."""
        return self.business_us(to_us(a), to_us(b)) / MINUTE_US

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """The earliest instant ``t >= start`` with ``business_minutes(start, t) == minutes``."""
        return from_us(self.add_us(to_us(start), round(minutes * MINUTE_US)))

    def next_open(self, at: datetime) -> datetime:
        """``at`` if the calendar is open then, else the instant it next opens."""
        if self.always_open:
            return at
        t = to_us(at)
        for s, _e in self.spans_from(t):
            return at if s <= t else from_us(s)
        raise ValueError(f"calendar '{self.name}' never opens")

    def next_close(self, at: datetime) -> datetime | None:
        """When the open period containing (or next after) ``at`` ends; None for 24/7. A period
        open without a break for more than two weeks reports a close two weeks on."""
        if self.always_open:
            return None
        for _s, e in self.spans_from(to_us(at)):
            return from_us(e)
        return None

    # -- microsecond core ------------------------------------------------------------------------
    def business_us(self, a: int, b: int) -> int:
        if b < a:
            return -self.business_us(b, a)
        if self.always_open or a == b:
            return b - a
        total = 0
        for s, e in self.spans_from(a):
            if s >= b:
                break
            total += min(e, b) - max(s, a)
        return total

    def add_us(self, start: int, amount: int) -> int:
        if amount < 0:
            raise ValueError("cannot add a negative amount of business time")
        if self.always_open or amount == 0:
            return start + amount
        for s, e in self.spans_from(start):
            s = max(s, start)
            if amount <= e - s:
                return s + amount
            amount -= e - s
        raise ValueError(f"calendar '{self.name}' never opens")

    def spans_from(self, t: int) -> Iterator[tuple[int, int]]:
        """Open spans (UTC µs, adjacent ones merged) that end after ``t``, in order. Stops after
        MAX_CLOSED_DAYS consecutive closed days."""
        ordinal = 719_163 + t // (DAY_SECONDS * US) - 2   # local date is within a day of UTC's
        pending: tuple[int, int] | None = None
        closed = 0
        while closed < MAX_CLOSED_DAYS:
            spans = self._day_spans(ordinal)
            ordinal += 1
            if not spans:
                closed += 1
                continue
            closed = 0
            for s, e in spans:
                if pending is not None:
                    if s <= pending[1] and pending[1] - pending[0] < _MERGE_LIMIT_US:
                        pending = (pending[0], max(e, pending[1]))
                        continue
                    if pending[1] > t:
                        yield pending
                pending = (s, e)
        if pending is not None and pending[1] > t:
            yield pending

    def _day_spans(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        days = self._state["days"]
        found = days.get(ordinal)
        if found is not None:
            return found
        day = date.fromordinal(ordinal)
        spans: list[tuple[int, int]] = []
        if not self.is_holiday(day):
            for s, e in self._state["by_day"][day.weekday()]:
                us_s, us_e = self._local_us(day, s), self._local_us(day, e)
                if us_e > us_s:
                    spans.append((us_s, us_e))
        spans.sort()
        result = tuple(spans)
        if len(days) > _CACHE_LIMIT:
            days.clear()
        days[ordinal] = result
        return result

    def _local_us(self, day: date, seconds: int) -> int:
        extra, seconds = divmod(seconds, DAY_SECONDS)
        naive = datetime.combine(day + timedelta(days=extra), time()) + timedelta(seconds=seconds)
        if self._state["utc"]:
            return to_us(naive.replace(tzinfo=timezone.utc))
        return to_us(naive.replace(tzinfo=self._state["tz"]))


ALWAYS_OPEN = Calendar.always()
