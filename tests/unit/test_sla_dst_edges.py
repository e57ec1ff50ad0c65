"""The SLA clock where a DST switch falls inside working hours.

Nuuk (Greenland) springs forward at 23:00 on a Saturday night: the clocks jump from 23:00
(UTC-2) straight to Sunday 00:00 (UTC-1), so a Saturday shift that ends at 23:30 ends, by the
module's rule (a wall time in the gap is read with the offset before the switch), at 00:30 on
Sunday. Los Angeles springs forward at 02:00: a shift of 02:30-03:30 that Sunday opens at
03:30 new time, which is its closing time.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shipshape.sla import BusinessCalendar, WorkingHours

NUUK = ZoneInfo("America/Nuuk")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
EVERY_DAY = frozenset({1, 2, 3, 4, 5, 6, 7})


def nuuk(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock moment in Nuuk in 2026 (the switch is Saturday 2026-03-28, 23:00)."""
    return datetime(2026, month, day, hour, minute, tzinfo=NUUK)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_a_saturday_shift_ending_in_the_gap_runs_past_midnight() -> None:
    # Given a Nuuk warehouse working Saturdays 20:00-23:30 only
    clock = BusinessCalendar(
        WorkingHours(timezone="America/Nuuk", days=frozenset({6}), start=time(20), end=time(23, 30))
    )

    # When the clocks jump from 23:00 to Sunday 00:00 during the shift
    # Then the shift's last half hour is Sunday 00:00-00:30 new time: 3.5 real hours in all
    assert clock.is_working_time(nuuk(3, 29, 0, 15))
    assert not clock.is_working_time(nuuk(3, 29, 0, 30))
    assert clock.business_time_between(nuuk(3, 28, 12), nuuk(3, 30, 12)) == timedelta(hours=3.5)
    # And an SLA opened at Sunday 00:15 uses the 15 minutes left, then next Saturday's shift
    due = clock.add_business_time(nuuk(3, 29, 0, 15), timedelta(minutes=30))
    assert due == utc(4, 4, 21, 15)
    assert due == nuuk(4, 4, 20, 15)


def test_a_spilled_shift_and_the_next_days_shift_count_their_overlap_once() -> None:
    # Given a Nuuk warehouse working 00:00-23:30 every day: on the switch night Saturday's
    # shift ends at 00:30 Sunday new time, half an hour into Sunday's shift
    clock = BusinessCalendar(
        WorkingHours(timezone="America/Nuuk", days=EVERY_DAY, start=time(0), end=time(23, 30))
    )

    # When the business time from Saturday 00:00 to Sunday 12:00 is measured
    elapsed = clock.business_time_between(nuuk(3, 28, 0), nuuk(3, 29, 12))

    # Then every real instant of the span counts once: 23 h 30 on Saturday, 11 h 30 on Sunday
    assert elapsed == timedelta(hours=35)
    assert elapsed == nuuk(3, 29, 12).astimezone(UTC) - nuuk(3, 28, 0).astimezone(UTC)
    # And an SLA opened inside the overlap is due one real hour later, in UTC
    due = clock.add_business_time(nuuk(3, 29, 0, 15), timedelta(hours=1))
    assert due == utc(3, 29, 2, 15)
    assert due.tzinfo is UTC


def test_a_shift_opening_in_the_gap_at_its_closing_time_has_no_working_time() -> None:
    # Given a Los Angeles Sunday shift 02:30-03:30: on 2026-03-08 02:30 does not exist and is
    # read as 03:30 PDT, the shift's own closing time
    clock = BusinessCalendar(
        WorkingHours(
            timezone="America/Los_Angeles", days=frozenset({7}), start=time(2, 30), end=time(3, 30)
        )
    )
    saturday = datetime(2026, 3, 7, 12, tzinfo=LOS_ANGELES)

    # When the clock is asked about that Sunday
    # Then it does not run at all: the next opening is the following Sunday 02:30 PDT
    assert not clock.is_working_time(utc(3, 8, 10, 30))
    assert clock.business_time_between(saturday, saturday + timedelta(days=2)) == timedelta(0)
    assert clock.next_opening(saturday) == datetime(2026, 3, 15, 2, 30, tzinfo=LOS_ANGELES)
    assert clock.add_business_time(saturday, timedelta(0)) == utc(3, 15, 9, 30)
