"""The SLA clock answers the same whatever timezone the machine runs in.

Lambda runs in UTC, but the embedded runtime and the pilot run on laptops set to anything.
Clients at the edges of the clock (Kiritimati, UTC+14, and Pago Pago, UTC-11) are where a
machine date used in place of the client's date is two days off.
"""

from __future__ import annotations

import time as system_time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from shipshape.sla import BusinessCalendar, WorkingHours

SetMachineZone = Callable[[str], None]


@pytest.fixture
def machine_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[SetMachineZone]:
    """Sets the process timezone (``TZ``), and restores it afterwards."""

    def set_zone(posix_tz: str) -> None:
        monkeypatch.setenv("TZ", posix_tz)
        system_time.tzset()

    yield set_zone
    monkeypatch.undo()
    system_time.tzset()


@pytest.mark.parametrize(
    "posix_tz",
    [
        pytest.param("UTC0", id="machine-in-utc"),
        pytest.param("<+14>-14", id="machine-at-utc+14"),
        pytest.param("<-12>12", id="machine-at-utc-12"),
    ],
)
def test_due_times_and_elapsed_times_do_not_depend_on_the_machine_timezone(
    posix_tz: str, machine_zone: SetMachineZone
) -> None:
    # Given the machine set to some timezone, and three clients:
    # Kiritimati working 00:00-08:00, Pago Pago 20:00-23:45 (both Monday to Friday), and Nuuk
    # 00:00-23:30 every day (on 2026-03-29 its Saturday shift runs into Sunday's, see
    # test_sla_dst_edges)
    machine_zone(posix_tz)
    kiritimati_zone, pago_pago_zone = ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Pago_Pago")
    kiritimati = BusinessCalendar(
        WorkingHours(timezone="Pacific/Kiritimati", start=time(0), end=time(8))
    )
    pago_pago = BusinessCalendar(
        WorkingHours(timezone="Pacific/Pago_Pago", start=time(20), end=time(23, 45))
    )
    nuuk = BusinessCalendar(
        WorkingHours(
            timezone="America/Nuuk",
            days=frozenset({1, 2, 3, 4, 5, 6, 7}),
            start=time(0),
            end=time(23, 30),
        )
    )

    # When elapsed and due times are computed around the clients' midnights
    kiritimati_elapsed = kiritimati.business_time_between(
        datetime(2026, 6, 14, 12, tzinfo=kiritimati_zone),  # Sunday noon: closed
        datetime(2026, 6, 15, 1, tzinfo=kiritimati_zone),  # Monday 01:00
    )
    pago_pago_elapsed = pago_pago.business_time_between(
        datetime(2026, 6, 15, 23, 15, tzinfo=pago_pago_zone),
        datetime(2026, 6, 15, 23, 45, tzinfo=pago_pago_zone),
    )
    pago_pago_due = pago_pago.add_business_time(
        datetime(2026, 6, 15, 23, 15, tzinfo=pago_pago_zone), timedelta(minutes=30)
    )
    nuuk_due = nuuk.add_business_time(
        datetime(2026, 3, 29, 0, 15, tzinfo=ZoneInfo("America/Nuuk")), timedelta(hours=1)
    )

    # Then they are the clients' answers, in UTC, on every machine
    assert kiritimati_elapsed == timedelta(hours=1)
    assert pago_pago_elapsed == timedelta(minutes=30)
    assert pago_pago_due == datetime(2026, 6, 16, 10, 45, tzinfo=UTC)  # Monday 23:45 local
    assert nuuk_due == datetime(2026, 3, 29, 2, 15, tzinfo=UTC)
    for due in (pago_pago_due, nuuk_due):
        assert due.tzinfo is UTC
