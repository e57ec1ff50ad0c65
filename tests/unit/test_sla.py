"""The business-hours SLA clock, on real calendars: weekends, public holidays, DST switches.

Two clients: one in Los Angeles (US federal holidays plus California's) and one in Berlin
(German holidays plus Berlin's), both working 09:00-17:00 Monday to Friday. Due times are
asserted in UTC, so an hour lost or gained at a DST switch shows in the expected value.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from shipshape.sla import (
    MAX_DURATION,
    BusinessCalendar,
    BusinessTimeOutOfRange,
    WorkingHours,
)

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)


def la(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A wall-clock moment in Los Angeles."""
    return datetime(year, month, day, hour, minute, second, tzinfo=LOS_ANGELES)


def berlin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A wall-clock moment in Berlin."""
    return datetime(year, month, day, hour, minute, second, tzinfo=BERLIN)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A moment in UTC, as the calendar returns them."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def us_client() -> BusinessCalendar:
    return BusinessCalendar(
        WorkingHours(timezone="America/Los_Angeles", holiday_country="US", holiday_subdivision="CA")
    )


@pytest.fixture
def de_client() -> BusinessCalendar:
    return BusinessCalendar(
        WorkingHours(timezone="Europe/Berlin", holiday_country="DE", holiday_subdivision="BE")
    )


def validation_fields(error: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    """The field names the validation error points at."""
    return {str(part) for problem in error.value.errors() for part in problem["loc"]}


# --- due times --------------------------------------------------------------------------


def test_deadline_crosses_a_weekend(de_client: BusinessCalendar) -> None:
    # Given an exception opened Friday 16:30 in Berlin with a 2-business-hour SLA
    opened = berlin(2026, 6, 12, 16, 30)

    # When the due time is computed
    due = de_client.add_business_time(opened, 2 * HOUR)

    # Then 30 minutes run on Friday and 90 on Monday: Monday 10:30 CEST
    assert due == utc(2026, 6, 15, 8, 30)
    assert due == berlin(2026, 6, 15, 10, 30)


def test_deadline_skips_a_monday_public_holiday(de_client: BusinessCalendar) -> None:
    # Given Friday 16:30 before Whit Monday (Pfingstmontag, 2026-05-25) in Berlin
    opened = berlin(2026, 5, 22, 16, 30)

    # When a 2-business-hour SLA is added
    due = de_client.add_business_time(opened, 2 * HOUR)

    # Then the clock skips the weekend and the holiday: Tuesday 10:30 CEST
    assert due == utc(2026, 5, 26, 8, 30)


@pytest.mark.parametrize(
    ("calendar", "opened", "expected"),
    [
        # Thanksgiving (Thu 2026-11-26) and California's Day After Thanksgiving (Fri).
        pytest.param("us", la(2026, 11, 25, 16, 0), utc(2026, 11, 30, 18, 0), id="us-thanksgiving"),
        # Christmas Day is a Friday in 2026.
        pytest.param("us", la(2026, 12, 24, 16, 0), utc(2026, 12, 28, 18, 0), id="us-christmas"),
        # New Year's Day 2027 is a Friday.
        pytest.param("us", la(2026, 12, 31, 16, 0), utc(2027, 1, 4, 18, 0), id="us-new-year"),
        # Labour Day (Erster Mai) is a Friday in 2026.
        pytest.param("de", berlin(2026, 4, 30, 16, 0), utc(2026, 5, 4, 8, 0), id="de-may-day"),
        pytest.param("de", berlin(2026, 12, 31, 16, 0), utc(2027, 1, 4, 9, 0), id="de-new-year"),
    ],
)
def test_deadline_crosses_a_friday_public_holiday(
    calendar: str,
    opened: datetime,
    expected: datetime,
    us_client: BusinessCalendar,
    de_client: BusinessCalendar,
) -> None:
    # Given a 2-business-hour SLA opened the afternoon before a public holiday
    clock = us_client if calendar == "us" else de_client

    # When the due time is computed
    due = clock.add_business_time(opened, 2 * HOUR)

    # Then one hour runs before the holiday and one after it and the weekend, at 10:00 local
    assert due == expected


@pytest.mark.parametrize(
    ("calendar", "opened", "expected"),
    [
        # US spring forward, Sun 2026-03-08: Friday is PST (UTC-8), Monday is PDT (UTC-7).
        pytest.param("us", la(2026, 3, 6, 16, 0), utc(2026, 3, 9, 17, 0), id="us-spring-forward"),
        # US fall back, Sun 2026-11-01: Friday is PDT (UTC-7), Monday is PST (UTC-8).
        pytest.param("us", la(2026, 10, 30, 16, 0), utc(2026, 11, 2, 18, 0), id="us-fall-back"),
        # EU spring forward, Sun 2026-03-29: Friday is CET (UTC+1), Monday is CEST (UTC+2).
        pytest.param(
            "de", berlin(2026, 3, 27, 16, 30), utc(2026, 3, 30, 8, 30), id="eu-spring-forward"
        ),
        # EU fall back, Sun 2026-10-25: Friday is CEST (UTC+2), Monday is CET (UTC+1).
        pytest.param(
            "de", berlin(2026, 10, 23, 16, 30), utc(2026, 10, 26, 9, 30), id="eu-fall-back"
        ),
    ],
)
def test_deadline_crosses_a_dst_switch(
    calendar: str,
    opened: datetime,
    expected: datetime,
    us_client: BusinessCalendar,
    de_client: BusinessCalendar,
) -> None:
    # Given a 2-business-hour SLA opened on the Friday before a DST switch
    clock = us_client if calendar == "us" else de_client

    # When the due time is computed
    due = clock.add_business_time(opened, 2 * HOUR)

    # Then Monday's hours are read in Monday's offset: the UTC hour moved with the switch
    assert due == expected
    assert due.astimezone(ZoneInfo(clock.hours.timezone)).time() in {time(10, 0), time(10, 30)}


def test_deadline_crosses_weekend_holidays_and_dst_in_berlin(de_client: BusinessCalendar) -> None:
    # Given Thursday 2027-03-25 16:30 CET: Good Friday follows, the clocks go forward on
    # Easter Sunday 2027-03-28 and Easter Monday is a holiday too
    opened = berlin(2027, 3, 25, 16, 30)

    # When a 2-business-hour SLA is added
    due = de_client.add_business_time(opened, 2 * HOUR)

    # Then 30 minutes run on Thursday and 90 on Tuesday, read in CEST (UTC+2)
    assert due == utc(2027, 3, 30, 8, 30)
    assert de_client.business_time_between(opened, due) == 2 * HOUR


def test_deadline_crosses_weekends_holiday_and_dst_in_los_angeles(
    us_client: BusinessCalendar,
) -> None:
    # Given Friday 2026-10-30 16:00 PDT: the clocks go back on Sunday 2026-11-01 and
    # Veterans Day (Wed 2026-11-11) is a holiday
    opened = la(2026, 10, 30, 16, 0)

    # When a 58-business-hour SLA is added (1 h Friday, 40 h the next week, 16 h Mon-Tue)
    due = us_client.add_business_time(opened, 58 * HOUR)

    # Then the last hour runs on Thursday 2026-11-12, read in PST (UTC-8)
    assert due == utc(2026, 11, 12, 18, 0)


def test_forty_business_hour_deadline(de_client: BusinessCalendar) -> None:
    # Given an exception opened Wednesday 13:00 in Berlin with a 40-business-hour SLA
    opened = berlin(2026, 6, 10, 13, 0)

    # When the due time is computed
    due = de_client.add_business_time(opened, 40 * HOUR)

    # Then five full working days later, across one weekend: next Wednesday 13:00 CEST
    assert due == utc(2026, 6, 17, 11, 0)


def test_deadline_ending_at_closing_time_is_due_at_closing(de_client: BusinessCalendar) -> None:
    # Given a 40-business-hour SLA opened Monday 09:00
    opened = berlin(2026, 6, 8, 9, 0)

    # When the due time is computed
    due = de_client.add_business_time(opened, 40 * HOUR)

    # Then it is Friday 17:00, not the next opening on Monday
    assert due == berlin(2026, 6, 12, 17, 0)


@pytest.mark.parametrize(
    ("opened", "expected"),
    [
        pytest.param(berlin(2026, 6, 13, 11, 0), berlin(2026, 6, 15, 11, 0), id="saturday"),
        pytest.param(berlin(2026, 6, 15, 7, 0), berlin(2026, 6, 15, 11, 0), id="before-opening"),
        pytest.param(berlin(2026, 6, 15, 18, 0), berlin(2026, 6, 16, 11, 0), id="after-closing"),
        pytest.param(berlin(2026, 5, 25, 10, 0), berlin(2026, 5, 26, 11, 0), id="on-a-holiday"),
    ],
)
def test_opening_outside_hours_starts_the_clock_at_next_opening(
    opened: datetime, expected: datetime, de_client: BusinessCalendar
) -> None:
    # Given an exception opened while the Berlin client is closed
    # When a 2-business-hour SLA is added
    due = de_client.add_business_time(opened, 2 * HOUR)

    # Then the two hours run from the next 09:00 opening
    assert due == expected


def test_zero_duration_is_due_at_the_next_opening(de_client: BusinessCalendar) -> None:
    # Given a Saturday moment and an SLA of zero
    opened = berlin(2026, 6, 13, 11, 0)

    # When the due time is computed
    due = de_client.add_business_time(opened, timedelta(0))

    # Then it is due as soon as the clock runs again
    assert due == berlin(2026, 6, 15, 9, 0)


def test_extra_closed_dates_are_honoured() -> None:
    # Given a Berlin client closed on Monday 2026-06-15 for a stocktake
    clock = BusinessCalendar(
        WorkingHours(
            timezone="Europe/Berlin",
            holiday_country="DE",
            holiday_subdivision="BE",
            extra_closed_dates=frozenset({date(2026, 6, 15)}),
        )
    )

    # When a 2-business-hour SLA is opened Friday 16:30
    due = clock.add_business_time(berlin(2026, 6, 12, 16, 30), 2 * HOUR)

    # Then Monday is skipped like a holiday
    assert due == berlin(2026, 6, 16, 10, 30)
    assert not clock.is_working_day(date(2026, 6, 15))


def test_calendar_without_holiday_country_works_every_weekday() -> None:
    # Given a client with no holiday country
    clock = BusinessCalendar(WorkingHours(timezone="Europe/Berlin"))

    # When a 2-business-hour SLA is opened the afternoon before Labour Day
    due = clock.add_business_time(berlin(2026, 4, 30, 16, 0), 2 * HOUR)

    # Then Friday 2026-05-01 counts as a working day
    assert due == berlin(2026, 5, 1, 10, 0)


def test_the_longest_allowed_duration_is_computed_and_round_trips(
    de_client: BusinessCalendar,
) -> None:
    # Given the longest SLA the clock accepts
    opened = utc(2026, 1, 1)

    # When it is added (about four years of working days, walked day by day)
    due = de_client.add_business_time(opened, MAX_DURATION)

    # Then the elapsed business time between the two ends is exactly that duration
    assert utc(2030, 1, 1) < due < utc(2031, 1, 1)
    assert de_client.business_time_between(opened, due) == MAX_DURATION


# --- working time and openings ----------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        pytest.param(la(2026, 6, 9, 9, 0), True, id="opening-instant"),
        pytest.param(la(2026, 6, 9, 16, 59, 59), True, id="just-before-closing"),
        pytest.param(la(2026, 6, 9, 17, 0), False, id="closing-instant"),
        pytest.param(la(2026, 6, 13, 12, 0), False, id="saturday"),
        pytest.param(la(2026, 7, 3, 12, 0), False, id="independence-day-observed"),
        pytest.param(la(2026, 3, 31, 12, 0), False, id="cesar-chavez-day"),
        # 16:30 UTC is 09:30 PDT: the moment's own zone does not matter.
        pytest.param(utc(2026, 6, 9, 16, 30), True, id="given-in-utc"),
    ],
)
def test_is_working_time(moment: datetime, working: bool, us_client: BusinessCalendar) -> None:
    # Given the Los Angeles client's calendar
    # When a moment is checked
    result = us_client.is_working_time(moment)

    # Then it is working time only inside [09:00, 17:00) local on a working day
    assert result is working


def test_next_opening(us_client: BusinessCalendar) -> None:
    # Given a Saturday noon and a Tuesday mid-morning in Los Angeles
    saturday, tuesday = la(2026, 6, 13, 12, 0), la(2026, 6, 9, 10, 15)

    # When the next opening is asked for
    after_saturday = us_client.next_opening(saturday)
    during_tuesday = us_client.next_opening(tuesday)

    # Then Saturday waits for Monday 09:00 PDT, and Tuesday is already open
    assert after_saturday == utc(2026, 6, 15, 16, 0)
    assert during_tuesday == tuesday
    assert during_tuesday.tzinfo is UTC


def test_business_time_between_across_a_weekend(de_client: BusinessCalendar) -> None:
    # Given Friday 15:00 and the next Monday 11:00 in Berlin
    start, end = berlin(2026, 6, 12, 15, 0), berlin(2026, 6, 15, 11, 0)

    # When the elapsed business time is measured
    elapsed = de_client.business_time_between(start, end)

    # Then only Friday's last two hours and Monday's first two count
    assert elapsed == 4 * HOUR


def test_business_time_between_across_a_dst_switch(us_client: BusinessCalendar) -> None:
    # Given Friday 09:00 PDT before the fall-back weekend and Monday 17:00 PST after it
    start, end = la(2026, 10, 30, 9, 0), la(2026, 11, 2, 17, 0)

    # When the elapsed business time is measured
    elapsed = us_client.business_time_between(start, end)

    # Then both days count eight hours: the extra hour of Sunday night is not working time
    assert elapsed == 16 * HOUR
    # (Why the calendar computes in UTC: same-zone subtraction compares wall clocks.)
    assert end - start == 80 * HOUR
    assert end.astimezone(UTC) - start.astimezone(UTC) == 81 * HOUR


def test_business_time_between_is_zero_when_end_is_not_after_start(
    de_client: BusinessCalendar,
) -> None:
    # Given an end before the start
    start, end = berlin(2026, 6, 15, 11, 0), berlin(2026, 6, 15, 10, 0)

    # When the elapsed business time is measured
    # Then it is zero, not negative
    assert de_client.business_time_between(start, end) == timedelta(0)
    assert de_client.business_time_between(start, start) == timedelta(0)


# --- DST transitions inside working hours (the documented fold/gap rule) ----------------


def test_opening_inside_the_spring_forward_gap_moves_one_gap_later() -> None:
    # Given a Sunday shift opening at 02:30, a wall time Los Angeles skips on 2026-03-08
    clock = BusinessCalendar(
        WorkingHours(
            timezone="America/Los_Angeles", days=frozenset({7}), start=time(2, 30), end=time(6)
        )
    )

    # When the next opening after Saturday is asked for
    opening = clock.next_opening(la(2026, 3, 7, 12, 0))

    # Then it is read with the pre-switch offset: 10:30 UTC, which is 03:30 PDT
    assert opening == utc(2026, 3, 8, 10, 30)
    assert clock.business_time_between(opening, la(2026, 3, 8, 12, 0)) == timedelta(hours=2.5)


def test_opening_inside_the_repeated_fall_back_hour_is_its_first_occurrence() -> None:
    # Given a Sunday shift opening at 01:30, a wall time Los Angeles shows twice on 2026-11-01
    clock = BusinessCalendar(
        WorkingHours(
            timezone="America/Los_Angeles", days=frozenset({7}), start=time(1, 30), end=time(6)
        )
    )

    # When the next opening after Saturday is asked for
    opening = clock.next_opening(la(2026, 10, 31, 12, 0))

    # Then it is the first 01:30 (PDT, UTC-7), and the shift lasts 5.5 real hours
    assert opening == utc(2026, 11, 1, 8, 30)
    assert clock.business_time_between(opening, la(2026, 11, 1, 12, 0)) == timedelta(hours=5.5)


# --- refusals ---------------------------------------------------------------------------


def test_naive_datetimes_are_refused(de_client: BusinessCalendar) -> None:
    # Given a datetime without a timezone
    naive = datetime(2026, 6, 12, 16, 30)
    aware = berlin(2026, 6, 12, 16, 30)

    # When it is given to any method of the calendar
    # Then it is refused, naming the argument
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        de_client.add_business_time(naive, HOUR)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        de_client.business_time_between(naive, aware)
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        de_client.business_time_between(aware, naive)
    with pytest.raises(ValueError, match="moment must be timezone-aware"):
        de_client.is_working_time(naive)
    with pytest.raises(ValueError, match="moment must be timezone-aware"):
        de_client.next_opening(naive)


@pytest.mark.parametrize(
    "duration",
    [
        pytest.param(-HOUR, id="negative"),
        pytest.param(MAX_DURATION + timedelta(seconds=1), id="over-365-days"),
    ],
)
def test_out_of_range_durations_are_refused(
    duration: timedelta, de_client: BusinessCalendar
) -> None:
    # Given a duration the clock does not accept
    # When it is added
    # Then a typed error says so
    with pytest.raises(BusinessTimeOutOfRange, match="duration"):
        de_client.add_business_time(berlin(2026, 6, 12, 16, 30), duration)


def test_calendar_with_almost_no_working_time_stops_at_the_horizon() -> None:
    # Given one working minute a week
    clock = BusinessCalendar(
        WorkingHours(
            timezone="Europe/Berlin", days=frozenset({7}), start=time(9, 0), end=time(9, 1)
        )
    )

    # When a long SLA is added
    # Then the walk gives up at the horizon instead of looping for millennia
    with pytest.raises(BusinessTimeOutOfRange, match="not reached within"):
        clock.add_business_time(berlin(2026, 6, 12), timedelta(days=30))


def test_span_over_the_horizon_is_refused(de_client: BusinessCalendar) -> None:
    # Given two moments twenty years apart
    # When the business time between them is asked for
    # Then it is refused rather than walked
    with pytest.raises(BusinessTimeOutOfRange, match="span"):
        de_client.business_time_between(utc(2026, 1, 1), utc(2046, 1, 1))


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        pytest.param({"days": frozenset()}, "days", id="empty-days"),
        pytest.param({"days": frozenset({1, 8})}, "days", id="day-out-of-range"),
        pytest.param({"timezone": "Europe/Atlantis"}, "timezone", id="unknown-timezone"),
        pytest.param({"timezone": "localtime"}, "timezone", id="machine-timezone"),
        pytest.param({"holiday_country": "XX"}, "holiday_country", id="unknown-country"),
        pytest.param({"holiday_country": "JAN"}, "holiday_country", id="library-constant"),
        pytest.param(
            {"holiday_country": "DE", "holiday_subdivision": "CA"},
            "holiday_subdivision",
            id="unknown-subdivision",
        ),
        pytest.param(
            {"holiday_subdivision": "BE"}, "holiday_subdivision", id="subdivision-without-country"
        ),
        pytest.param({"start": time(17), "end": time(9)}, "end", id="end-before-start"),
        pytest.param({"start": time(9), "end": time(9)}, "end", id="empty-window"),
        pytest.param({"start": time(9, tzinfo=UTC)}, "start", id="aware-start"),
        pytest.param({"weekends": True}, "weekends", id="unknown-field"),
    ],
)
def test_invalid_working_hours_are_refused_naming_the_field(
    fields: dict[str, object], named: str
) -> None:
    # Given working hours with one mistake
    values: dict[str, object] = {"timezone": "Europe/Berlin", **fields}

    # When they are validated
    with pytest.raises(ValidationError) as error:
        WorkingHours.model_validate(values)

    # Then the error points at the field and mentions it
    assert named in validation_fields(error)
    assert named in str(error.value)


def test_valid_working_hours_for_three_countries() -> None:
    # Given working hours for London, Los Angeles and Berlin clients
    # When they are validated
    london = WorkingHours(timezone="Europe/London", holiday_country="GB", holiday_subdivision="ENG")
    us = WorkingHours(
        timezone="America/Los_Angeles", holiday_country="US", holiday_subdivision="CA"
    )
    berlin_hours = WorkingHours.model_validate(
        {"timezone": "Europe/Berlin", "holiday_country": "DE", "start": "08:30", "end": "16:30"}
    )

    # Then they keep the defaults they were not given, and are immutable
    assert london.days == frozenset({1, 2, 3, 4, 5})
    assert (us.start, us.end) == (time(9), time(17))
    assert berlin_hours.start == time(8, 30)
    with pytest.raises(ValidationError):
        london.start = time(8)  # type: ignore[misc]


# --- property-style check ---------------------------------------------------------------


def test_due_time_and_elapsed_time_agree_for_random_moments(
    us_client: BusinessCalendar, de_client: BusinessCalendar
) -> None:
    # Given 200 pseudo-random opening moments over 2026-2027 and SLAs up to 60 business hours
    rng = random.Random(7)
    origin = utc(2026, 1, 1)
    cases = [
        (
            rng.choice((us_client, de_client)),
            origin + timedelta(seconds=rng.randrange(2 * 365 * 24 * 3600)),
            timedelta(minutes=rng.randrange(60 * 60), seconds=rng.randrange(60)),
        )
        for _ in range(200)
    ]

    for clock, start, duration in cases:
        # When the due time is computed
        due = clock.add_business_time(start, duration)

        # Then exactly that much business time elapses from the start to the due time,
        # and the clock was running just before the due time
        assert clock.business_time_between(start, due) == duration, (start, duration)
        assert due >= start
        assert due.tzinfo is UTC
        if duration:
            assert clock.is_working_time(due - timedelta(microseconds=1)), (start, duration)
