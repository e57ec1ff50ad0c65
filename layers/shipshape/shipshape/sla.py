"""The business-hours SLA clock: when an exception is due, and how overdue it is.

Every exception type has a time-to-action SLA in *business* hours of the client ("2 business
hours"). The clock only runs during the client's working hours, in the client's timezone, and
stops on weekends, on public holidays of the client's country (and subdivision) and on closure
dates the agency declares. ``WorkingHours`` says when the clock runs; ``BusinessCalendar``
turns an opening moment and an SLA into a due moment, and two moments into elapsed business time.

How time is read:

* Every instant that goes in must be timezone-aware, and every instant that comes out is in UTC.
  Arithmetic happens on UTC datetimes only: subtracting two datetimes that share a ``ZoneInfo``
  compares wall clocks, not instants, and would be an hour off across a DST switch.
* Working hours are wall-clock times in the client's zone: 09:00 means 09:00 local before and
  after a DST switch. Each working day is turned into one ``[opens, closes)`` interval of UTC
  instants with ``datetime.combine(day, wall_time, tzinfo=ZoneInfo(...))``, which uses
  ``fold=0``:

  - a wall time that does not exist (the spring-forward gap, e.g. 02:30 when clocks jump from
    02:00 to 03:00) is read with the offset in force *before* the switch, so it lands one gap
    length later (02:30 -> 03:30 new time), the resolution ``dateutil.tz.resolve_imaginary``
    also uses;
  - a wall time that happens twice (the fall-back hour) is its *first* occurrence.

  Both ends of a window inside a gap move by the gap's length, so such a window keeps its
  length (02:10-02:50 on a spring-forward night is 03:10-03:50 new time); a window that opens
  inside the gap and closes within one gap length of it (02:30-03:30) has no working time.
  Working hours starting or ending inside a DST transition are rare (transitions
  are at night in the zones Shipshape serves); the rule above keeps them deterministic.
* Holidays come from the ``holidays`` library (its default ``PUBLIC`` category, with observed
  days, e.g. a Saturday Independence Day observed on the Friday). The library is imported on
  first use, not when this module is imported: ``import holidays`` costs about 60-80 ms and the
  first country lookup another 60-80 ms, because ``holidays.countries`` imports every country
  module whichever one is asked for (importing the country class directly costs the same).
  A Lambda that imports this module without computing a deadline pays nothing for it.

Walks are bounded: ``add_business_time`` refuses durations over ``MAX_DURATION`` and gives up
after ``MAX_SPAN`` of calendar time, so a calendar with almost no working time raises
``BusinessTimeOutOfRange`` instead of looping for years.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from shipshape.base import Model
from shipshape.errors import ShipshapeError

__all__ = [
    "MAX_DURATION",
    "MAX_SPAN",
    "BusinessCalendar",
    "BusinessTimeOutOfRange",
    "WorkingHours",
]

# The longest SLA ``add_business_time`` accepts; anything longer is a configuration mistake.
MAX_DURATION = timedelta(days=365)
# The most calendar time any walk covers (about ten years). A normal 40-hour week needs about
# four and a half years of calendar to accumulate MAX_DURATION, so this only stops calendars
# with almost no working time.
MAX_SPAN = timedelta(days=3653)

# Keys ZoneInfo accepts that are not IANA zones: they depend on the machine (Lambda's is UTC).
_NOT_IANA_ZONES = frozenset({"localtime", "posixrules"})

IsoWeekday = Annotated[int, Field(ge=1, le=7)]


class BusinessTimeOutOfRange(ShipshapeError, ValueError):
    """A duration or span the business clock refuses, or a deadline it cannot reach in range."""


class WorkingHours(Model):
    """When a client's business clock runs: weekdays, daily hours, timezone and closed days.

    Hours are wall-clock times in ``timezone`` and the same every working day; a window that
    crosses midnight (night shifts) is not supported. ``holiday_country`` and
    ``holiday_subdivision`` are codes of the ``holidays`` library (ISO 3166-1 alpha-2 such as
    ``"US"``, ``"DE"``, ``"GB"``; subdivisions such as ``"CA"``, ``"BE"``, ``"ENG"``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str
    days: frozenset[IsoWeekday] = frozenset({1, 2, 3, 4, 5})
    start: time = time(9, 0)
    end: time = time(17, 0)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    extra_closed_dates: frozenset[date] = frozenset()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value in _NOT_IANA_ZONES:
            raise ValueError(f"timezone {value!r} is machine-dependent; name an IANA zone")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone {value!r} is not a known IANA timezone") from exc
        return value

    @field_validator("days")
    @classmethod
    def _some_working_day(cls, value: frozenset[int]) -> frozenset[int]:
        # Without a working day no deadline is ever reached; refuse it here, not in a loop.
        if not value:
            raise ValueError("days must name at least one ISO weekday (1=Monday .. 7=Sunday)")
        return value

    @field_validator("start", "end")
    @classmethod
    def _wall_clock_time(cls, value: time, info: ValidationInfo) -> time:
        if value.tzinfo is not None:
            raise ValueError(f"{info.field_name} must be a wall-clock time without tzinfo")
        # fold=0 everywhere, so a time inside a DST transition resolves as the module says.
        return value.replace(fold=0)

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("start")
        if start is not None and value <= start:
            raise ValueError(
                f"end {value.isoformat()} must be after start {start.isoformat()} "
                "(windows crossing midnight are not supported)"
            )
        return value

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and value not in _supported_countries():
            raise ValueError(
                f"holiday_country {value!r} is not a country code the holidays library knows "
                "(ISO 3166-1 alpha-2, upper case, e.g. 'US', 'DE', 'GB')"
            )
        return value

    @field_validator("holiday_subdivision")
    @classmethod
    def _known_subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "holiday_country" not in info.data:
            # Absent from data means the country itself was refused; its error says why.
            return value
        country = info.data["holiday_country"]
        if country is None:
            raise ValueError(f"holiday_subdivision {value!r} needs a holiday_country")
        known = _supported_countries()[country]
        if value not in known:
            raise ValueError(
                f"holiday_subdivision {value!r} is not a subdivision of {country} the holidays "
                f"library knows (known: {', '.join(known) or 'none'})"
            )
        return value


class BusinessCalendar:
    """The business clock of one ``WorkingHours``: due times and elapsed business time.

    Instants go in aware (any timezone) and come out in UTC. Working time is the union of
    half-open ``[opens, closes)`` intervals, one per working day; the clock jumps from interval
    to interval, so a long SLA costs one step per calendar day, not per minute. Holidays are
    looked up once per year and kept.
    """

    def __init__(self, hours: WorkingHours) -> None:
        """Build the clock for ``hours``; holidays are loaded lazily, a year at a time."""
        self._hours = hours
        self._zone = ZoneInfo(hours.timezone)
        self._closed_by_year: dict[int, frozenset[date]] = {}

    def __repr__(self) -> str:
        return f"BusinessCalendar({self._hours!r})"

    @property
    def hours(self) -> WorkingHours:
        """The working hours this calendar was built from."""
        return self._hours

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local date of the client) is a working weekday and not closed."""
        return day.isoweekday() in self._hours.days and day not in self._closed_dates(day.year)

    def is_working_time(self, moment: datetime) -> bool:
        """Whether the clock runs at ``moment`` (opening instant included, closing excluded)."""
        at = _as_utc(moment, "moment")
        first = next(self._intervals(at, at + timedelta(days=2)), None)
        return first is not None and first[0] == at

    def next_opening(self, moment: datetime) -> datetime:
        """When the clock next runs, in UTC: ``moment`` itself if it is working time.

        Raises ``BusinessTimeOutOfRange`` if the calendar has no working time within
        ``MAX_SPAN`` (for example every working day in range is a closure date).
        """
        at = _as_utc(moment, "moment")
        first = next(self._intervals(at, at + MAX_SPAN), None)
        if first is None:
            raise BusinessTimeOutOfRange(f"no working time within {MAX_SPAN.days} days of {at}")
        return first[0]

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The due moment, in UTC, of an SLA of ``duration`` business time opened at ``start``.

        Outside working hours the clock starts at the next opening. A deadline that ends
        exactly at closing time is due at closing, not at the next opening. Raises
        ``BusinessTimeOutOfRange`` for a negative duration, one over ``MAX_DURATION``, or one
        the calendar cannot accumulate within ``MAX_SPAN``.
        """
        at = _as_utc(start, "start")
        if duration < timedelta(0):
            raise BusinessTimeOutOfRange(f"duration must not be negative, got {duration}")
        if duration > MAX_DURATION:
            raise BusinessTimeOutOfRange(
                f"duration {duration} is over the {MAX_DURATION.days}-day maximum"
            )
        remaining = duration
        for opens, closes in self._intervals(at, at + MAX_SPAN):
            available = closes - opens
            if remaining <= available:
                return opens + remaining
            remaining -= available
        raise BusinessTimeOutOfRange(
            f"{duration} of business time is not reached within {MAX_SPAN.days} days of {at}"
        )

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time elapsed from ``start`` to ``end``; zero if ``end`` is not after it.

        Used to tell how overdue an exception is: ``business_time_between(due, now)``.
        Raises ``BusinessTimeOutOfRange`` if the span is over ``MAX_SPAN``.
        """
        since = _as_utc(start, "start")
        until = _as_utc(end, "end")
        if until <= since:
            return timedelta(0)
        if until - since > MAX_SPAN:
            raise BusinessTimeOutOfRange(
                f"span {until - since} is over the {MAX_SPAN.days}-day maximum"
            )
        return sum(
            (closes - opens for opens, closes in self._intervals(since, until)), timedelta(0)
        )

    def _closed_dates(self, year: int) -> frozenset[date]:
        closed = self._closed_by_year.get(year)
        if closed is None:
            hours = self._hours
            public = (
                _public_holidays(hours.holiday_country, hours.holiday_subdivision, year)
                if hours.holiday_country is not None
                else frozenset()
            )
            closed = public | {day for day in hours.extra_closed_dates if day.year == year}
            self._closed_by_year[year] = closed
        return closed

    def _day_interval(self, day: date) -> tuple[datetime, datetime] | None:
        if not self.is_working_day(day):
            return None
        opens = datetime.combine(day, self._hours.start, tzinfo=self._zone).astimezone(UTC)
        closes = datetime.combine(day, self._hours.end, tzinfo=self._zone).astimezone(UTC)
        # Only a DST gap can turn a valid window empty (see the module docstring).
        return (opens, closes) if closes > opens else None

    def _intervals(self, since: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals overlapping ``[since, until)``, clipped to it, in time order."""
        # Start a day early: a gap-shifted closing can spill past local midnight.
        day = since.astimezone(self._zone).date() - timedelta(days=1)
        last_day = until.astimezone(self._zone).date() + timedelta(days=1)
        cursor = since
        while day <= last_day:
            interval = self._day_interval(day)
            if interval is not None:
                opens, closes = interval
                if opens >= until:
                    return
                # Clipping against the cursor also drops a repeated interval (a skipped local
                # date, as Samoa's 2011-12-30, resolves onto the next day's instants).
                if closes > cursor:
                    opens, closes = max(opens, cursor), min(closes, until)
                    yield opens, closes
                    cursor = closes
            day += timedelta(days=1)


def _as_utc(moment: datetime, name: str) -> datetime:
    # utcoffset() is None for naive datetimes and for tzinfos that cannot place them.
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


@cache
def _supported_countries() -> dict[str, list[str]]:
    import holidays  # deferred: see the module docstring for what importing it costs

    return holidays.list_supported_countries()


@lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    # Cached per process, so warm Lambda invocations and every calendar of the same country
    # share one computation per year.
    import holidays  # deferred: see the module docstring

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())
