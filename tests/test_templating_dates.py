"""Date filters and now(): Java patterns, named formats, time zones, parsing, dateAdd."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from engine.templating import ExpressionError, Renderer
from tests.test_templating_support import FakeIO

CLOCK = datetime(2024, 7, 9, 6, 17, 1, 171193, tzinfo=UTC)
CTX: dict[str, Any] = {
    "d": "2024-01-15T10:30:00Z", "ms": "2024-01-15T10:30:00.123Z", "pm": "2024-01-15T15:05:09Z",
    "dt": datetime(2024, 1, 15, 10, 30, tzinfo=UTC), "day": date(2024, 1, 15),
    "epoch": 1705314600,
}

DATES: list[tuple[str, str]] = [
    ("{{ now() }}", "2024-07-09T06:17:01.171193Z"),
    ("{{ now(timeZone='Europe/Paris') }}", "2024-07-09T08:17:01.171193+02:00"),
    ("{{ now(format='yyyy-MM-dd') }}", "2024-07-09"),
    ("{{ now('iso_sec') }}", "2024-07-09T06:17:01Z"),
    ("{{ d | date }}", "2024-01-15T10:30:00.000000Z"),
    ("{{ d | date('yyyy-MM-dd HH:mm') }}", "2024-01-15 10:30"),
    ("{{ d | date(\"yyyy-MM-dd'T'HH:mm:ss.SSSXXX\") }}", "2024-01-15T10:30:00.000Z"),
    ("{{ ms | date('HH:mm:ss.SSS') }}", "10:30:00.123"),
    ("{{ ms | date('SSSSSS') }}", "123000"),
    ("{{ d | date('yy/M/d') }}", "24/1/15"),
    ("{{ d | date('dd MMM yyyy') }}", "15 Jan 2024"),
    ("{{ d | date('MMMM') }}", "January"),
    ("{{ d | date('EEE') }}", "Mon"),
    ("{{ d | date('EEEE') }}", "Monday"),
    ("{{ d | date('E') }}", "Mon"),
    ("{{ d | date('D') }}", "15"),
    ("{{ d | date('h:mm a') }}", "10:30 AM"),
    ("{{ pm | date('hh:mm:ss a') }}", "03:05:09 PM"),
    ("{{ pm | date('H') }}", "15"),
    ("{{ d | date('yyyy-MM-dd\\'T\\'HH') }}", "2024-01-15T10"),
    ("{{ d | date(\"h 'o''clock'\") }}", "10 o'clock"),
    ("{{ d | date(\"''\") }}", "'"),
    ("{{ d | date('XXX', timeZone='Europe/Paris') }}", "+01:00"),
    ("{{ d | date('XX', timeZone='Europe/Paris') }}", "+0100"),
    ("{{ d | date('X', timeZone='Europe/Paris') }}", "+01"),
    ("{{ d | date('X', timeZone='Asia/Kolkata') }}", "+0530"),
    ("{{ d | date('XXX') }}", "Z"),
    ("{{ d | date('Z') }}", "+0000"),
    ("{{ d | date('Z', timeZone='America/New_York') }}", "-0500"),
    ("{{ d | date('z', timeZone='Europe/Paris') }}", "CET"),
    ("{{ d | date('VV', timeZone='Europe/Paris') }}", "Europe/Paris"),
    ("{{ d | date('O', timeZone='Europe/Paris') }}", "GMT+1"),
    ("{{ d | date('n') }}", "0"),
    ("{{ d | date('HH:mm', timeZone='America/New_York') }}", "05:30"),
    ("{{ d | date('HH:mm', timeZone='+02:00') }}", "12:30"),
    # named formats
    ("{{ d | date('iso_sec') }}", "2024-01-15T10:30:00Z"),
    ("{{ d | date('sql') }}", "2024-01-15 10:30:00.000000"),
    ("{{ d | date('sql_seq') }}", "2024-01-15 10:30:00"),
    ("{{ d | date('iso_instant') }}", "2024-01-15T10:30:00Z"),
    ("{{ ms | date('iso_instant', timeZone='Europe/Paris') }}", "2024-01-15T10:30:00.123Z"),
    ("{{ d | date('iso_local_date') }}", "2024-01-15"),
    ("{{ d | date('iso_local_date_time') }}", "2024-01-15T10:30:00"),
    ("{{ d | date('iso_local_time') }}", "10:30:00"),
    ("{{ ms | date('iso_local_time') }}", "10:30:00.123"),
    ("{{ d | date('iso_offset_time', timeZone='Europe/Paris') }}", "11:30:00+01:00"),
    ("{{ d | date('iso_time') }}", "10:30:00Z"),
    ("{{ d | date('iso_date') }}", "2024-01-15Z"),
    ("{{ d | date('iso_date_time') }}", "2024-01-15T10:30:00Z[UTC]"),
    ("{{ d | date('iso_zoned_date_time', timeZone='Europe/Paris') }}",
     "2024-01-15T11:30:00+01:00[Europe/Paris]"),
    ("{{ d | date('iso_ordinal_date') }}", "2024-015Z"),
    ("{{ d | date('iso_week_date') }}", "2024-W03-1Z"),
    ("{{ d | date('rfc_1123_date_time') }}", "Mon, 15 Jan 2024 10:30:00 GMT"),
    ("{{ d | date('rfc_1123_date_time', timeZone='Europe/Paris') }}", "Mon, 15 Jan 2024 11:30:00 +0100"),
    ("{{ d | date('full') }}", "Monday, January 15, 2024 at 10:30:00 AM Coordinated Universal Time"),
    ("{{ d | date('long') }}", "January 15, 2024 at 10:30:00 AM UTC"),
    ("{{ d | date('medium') }}", "Jan 15, 2024, 10:30:00 AM"),
    ("{{ d | date('short') }}", "1/15/24, 10:30 AM"),
    # inputs of every kind
    ("{{ dt | date('iso_sec') }}", "2024-01-15T10:30:00Z"),
    ("{{ dt }}", "2024-01-15T10:30:00Z"),
    ("{{ day | date('iso_sec') }}", "2024-01-15T00:00:00Z"),
    ("{{ epoch | date('iso_sec') }}", "2024-01-15T10:30:00Z"),
    ("{{ '2024-01-15' | date('iso_sec') }}", "2024-01-15T00:00:00Z"),
    ("{{ '2024-01-15T10:30:00' | date('iso_sec', timeZone='Europe/Paris') }}", "2024-01-15T10:30:00+01:00"),
    ("{{ '2024-01-15T10:30:00+02:00' | date('iso_sec') }}", "2024-01-15T08:30:00Z"),
    ("{{ '2024-01-15T10:30:00+01:00[Europe/Paris]' | date('HH:mm VV') }}", "09:30 UTC"),
    ("{{ '15/01/2024 10:30' | date('yyyy-MM-dd HH:mm', existingFormat='dd/MM/yyyy HH:mm') }}",
     "2024-01-15 10:30"),
    ("{{ '15 Jan 2024 03:04 PM' | date('HH:mm', existingFormat='dd MMM yyyy hh:mm a') }}", "15:04"),
    ("{{ '2024-01-15 10:30 +0200' | date('HH:mm', existingFormat='yyyy-MM-dd HH:mm Z') }}", "08:30"),
    # dateAdd and timestamps
    ("{{ d | dateAdd(1, 'DAYS', 'yyyy-MM-dd') }}", "2024-01-16"),
    ("{{ d | dateAdd(-2, 'HOURS', format='HH:mm') }}", "08:30"),
    ("{{ '2024-01-31' | dateAdd(1, 'MONTHS', 'yyyy-MM-dd') }}", "2024-02-29"),
    ("{{ d | dateAdd(1, 'YEARS') }}", "2025-01-15T10:30:00.000000Z"),
    ("{{ d | dateAdd(90, 'MINUTES', 'HH:mm') }}", "12:00"),
    ("{{ d | dateAdd(1, 'WEEKS', 'dd') }}", "22"),
    ("{{ '2024-03-30T12:00:00+01:00' | dateAdd(1, 'DAYS', 'HH:mm XXX', timeZone='Europe/Paris') }}",
     "12:00 +02:00"),
    ("{{ d | timestamp }}", "1705314600"),
    ("{{ ms | timestampMicro }}", "1705314600123000"),
    ("{{ ms | timestampNano }}", "1705314600123000000"),
    ("{{ ms | timestampMilli }}", "1705314600123"),
    ("{{ '2024-01-15T10:30:00' | timestamp(timeZone='Europe/Paris') }}", "1705311000"),
]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(FakeIO(clock=CLOCK))


@pytest.mark.parametrize(("template", "expected"), DATES, ids=[t for t, _ in DATES])
def test_dates(renderer: Renderer, template: str, expected: str) -> None:
    assert renderer.render(template, CTX) == expected


def test_default_timezone_applies_without_time_zone_argument() -> None:
    paris = Renderer(FakeIO(clock=CLOCK), default_timezone="Europe/Paris")
    assert paris.render("{{ now('HH:mm XXX') }}", {}) == "08:17 +02:00"


@pytest.mark.parametrize(("template", "message"), [
    ("{{ d | date('yyyy-tt') }}", "Unknown pattern letter `t`"),
    ("{{ d | date('iso', timeZone='Mars/Base') }}", "Unknown time zone `Mars/Base`"),
    ("{{ 'not a date' | date('iso') }}", "is not an ISO date"),
    ("{{ '2024/01/15' | date('iso', existingFormat='dd-MM-yyyy') }}", "does not match the format"),
    ("{{ d | dateAdd(1, 'FORTNIGHTS') }}", "unknown unit `FORTNIGHTS`"),
    ("{{ d | date(\"'open\") }}", "Unclosed quote"),
    ("{{ none | date('iso') }}", "null date"),
])
def test_date_errors(renderer: Renderer, template: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        renderer.render(template, {**CTX, "none": None})
    assert message in str(caught.value)
