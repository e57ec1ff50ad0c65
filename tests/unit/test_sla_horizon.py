"""The SLA clock's horizon: walks cover at most MAX_SPAN of calendar time, no more, no less."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from shipshape.sla import MAX_SPAN, BusinessCalendar, BusinessTimeOutOfRange, WorkingHours

EVERY_DAY = frozenset({1, 2, 3, 4, 5, 6, 7})
FIRST_DAY = date(2026, 1, 1)


@pytest.fixture
def closed_for_ten_years() -> BusinessCalendar:
    """A UTC client working 09:00-17:00 every day, closed every day of MAX_SPAN from 2026-01-01."""
    closed = frozenset(FIRST_DAY + timedelta(days=n) for n in range(MAX_SPAN.days))
    return BusinessCalendar(WorkingHours(timezone="UTC", days=EVERY_DAY, extra_closed_dates=closed))


def test_no_opening_within_the_horizon_is_refused(
    closed_for_ten_years: BusinessCalendar,
) -> None:
    # Given the closed client, asked at its opening hour on the first closed day: its next
    # opening is exactly MAX_SPAN away
    asked = datetime.combine(FIRST_DAY, time(9), tzinfo=UTC)
    reopening = asked + MAX_SPAN

    # When the next opening, or an SLA of zero, is asked for
    # Then both are refused with a typed error: an opening at the horizon is beyond it
    with pytest.raises(BusinessTimeOutOfRange, match=f"no working time within {MAX_SPAN.days}"):
        closed_for_ten_years.next_opening(asked)
    with pytest.raises(BusinessTimeOutOfRange, match="not reached within"):
        closed_for_ten_years.add_business_time(asked, timedelta(0))
    # And a second later the reopening is within the horizon, and found
    assert closed_for_ten_years.next_opening(asked + timedelta(seconds=1)) == reopening
    assert reopening.date() == FIRST_DAY + timedelta(days=MAX_SPAN.days)


def test_a_span_of_exactly_the_horizon_is_measured_and_one_microsecond_more_is_refused() -> None:
    # Given a UTC client working 09:00-17:00 every day, with no holidays
    clock = BusinessCalendar(WorkingHours(timezone="UTC", days=EVERY_DAY))
    start = datetime(2026, 1, 1, tzinfo=UTC)

    # When the business time over exactly MAX_SPAN is measured
    elapsed = clock.business_time_between(start, start + MAX_SPAN)

    # Then it is eight hours for each of its days
    assert elapsed == MAX_SPAN.days * timedelta(hours=8)
    # And a span one microsecond longer is refused rather than walked
    with pytest.raises(BusinessTimeOutOfRange, match="span"):
        clock.business_time_between(start, start + MAX_SPAN + timedelta(microseconds=1))
