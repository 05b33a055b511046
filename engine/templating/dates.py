"""L1 pure core: Kestra's date logic (`date`, `dateAdd`, `timestamp*`, `now`).

Inputs: datetimes, dates, epoch seconds (numbers) and strings (ISO zoned, then ISO local
date-time, then ISO local date, or a Java pattern given as `existingFormat`). Output is in
`timeZone` (IANA) or the renderer's default zone. Formats: Java patterns or Kestra's
named formats (`iso`, `iso_sec`, `sql`, `iso_instant`, `rfc_1123_date_time`, `full`...).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from dateutil.relativedelta import relativedelta

from engine.templating.errors import ExpressionError
from engine.templating.java_time import format_pattern, offset_text, parse_pattern, start_of_day, zone_id, zone_of

_PATTERNS = {
    "iso": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_sec": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "sql_seq": "yyyy-MM-dd HH:mm:ss",
    "iso_local_date": "yyyy-MM-dd",
    "iso_local_date_time": "yyyy-MM-dd'T'HH:mm:ss",
    "iso_ordinal_date": "yyyy-DDDXXXXX",
    "full": "EEEE, MMMM d, y 'at' h:mm:ss a zzzz",
    "long": "MMMM d, y 'at' h:mm:ss a z",
    "medium": "MMM d, y, h:mm:ss a",
    "short": "M/d/yy, h:mm a",
}
_UNITS: dict[str, Callable[[int], timedelta | relativedelta]] = {
    "NANOS": lambda a: timedelta(microseconds=a / 1000),
    "MICROS": lambda a: timedelta(microseconds=a),
    "MILLIS": lambda a: timedelta(milliseconds=a),
    "SECONDS": lambda a: timedelta(seconds=a),
    "MINUTES": lambda a: timedelta(minutes=a),
    "HOURS": lambda a: timedelta(hours=a),
    "HALF_DAYS": lambda a: timedelta(hours=12 * a),
    "DAYS": lambda a: relativedelta(days=a),
    "WEEKS": lambda a: relativedelta(weeks=a),
    "MONTHS": lambda a: relativedelta(months=a),
    "YEARS": lambda a: relativedelta(years=a),
    "DECADES": lambda a: relativedelta(years=10 * a),
    "CENTURIES": lambda a: relativedelta(years=100 * a),
    "MILLENNIA": lambda a: relativedelta(years=1000 * a),
}


def _local_time(value: datetime) -> str:
    """ISO_LOCAL_TIME: seconds always, a fraction only when non-zero, trailing zeros cut."""
    text = value.strftime("%H:%M:%S")
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    return text


def _offset(value: datetime) -> str:
    return offset_text(value, "XXXXX")


def _region(value: datetime) -> str:
    return "" if value.tzinfo is UTC or not hasattr(value.tzinfo, "key") else f"[{zone_id(value)}]"


def _instant(value: datetime) -> str:
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        fraction = f"{value.microsecond:06d}"
        text += "." + (fraction[:3] if fraction.endswith("000") else fraction)
    return text + "Z"


_BUILT_IN: dict[str, Callable[[datetime], str]] = {
    "iso_date_time": lambda v: f"{v:%Y-%m-%d}T{_local_time(v)}{_offset(v)}{_region(v)}",
    "iso_zoned_date_time": lambda v: f"{v:%Y-%m-%d}T{_local_time(v)}{_offset(v)}{_region(v)}",
    "iso_offset_date_time": lambda v: f"{v:%Y-%m-%d}T{_local_time(v)}{_offset(v)}",
    "iso_date": lambda v: f"{v:%Y-%m-%d}{_offset(v)}",
    "iso_time": lambda v: f"{_local_time(v)}{_offset(v)}",
    "iso_offset_time": lambda v: f"{_local_time(v)}{_offset(v)}",
    "iso_local_time": _local_time,
    "iso_week_date": lambda v: "{}-W{:02d}-{}".format(*v.isocalendar()) + _offset(v),
    "iso_instant": _instant,
    "rfc_1123_date_time": lambda v: format_pattern(v, "EEE, d MMM yyyy HH:mm:ss ") + (
        "GMT" if not v.utcoffset() else offset_text(v, "xx")),
}


def format_date(value: datetime, fmt: str | None) -> str:
    """Format with a named format (default `iso`) or a Java DateTimeFormatter pattern."""
    fmt = fmt or "iso"
    named = fmt.lower()
    if named in _BUILT_IN:
        return _BUILT_IN[named](value)
    return format_pattern(value, _PATTERNS.get(named, fmt))


def _zone_suffix(text: str) -> int | None:
    """Where a trailing `[Europe/Paris]` starts (what `\\[([^\\]]+)\\]$` finds, without its
    quadratic backtracking on a text full of `[`)."""
    if not text.endswith("]"):
        return None
    previous = text.rfind("]", 0, len(text) - 1)
    opening = text.find("[", previous + 1, len(text) - 1)
    return opening if 0 <= opening < len(text) - 2 else None


def to_datetime(value: Any, zone: tzinfo, existing_format: str | None = None,
                timeout: float | None = None) -> datetime:
    """Any supported date input as an aware datetime in `zone`."""
    if isinstance(value, datetime):
        result = value if value.tzinfo else value.replace(tzinfo=zone)
    elif isinstance(value, date):
        result = start_of_day(value, zone)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        result = datetime.fromtimestamp(value, tz=UTC)
    elif isinstance(value, str):
        result = _parse_string(value, zone, existing_format, timeout)
    elif value is None:
        raise ExpressionError("Cannot format a null date: check the value, or use `?? default`")
    else:
        raise ExpressionError(f"Cannot read a date from a {type(value).__name__}: "
                              "pass an ISO string, epoch seconds or a date")
    return result.astimezone(zone)


def _parse_string(text: str, zone: tzinfo, existing_format: str | None, timeout: float | None) -> datetime:
    if existing_format:
        named = existing_format.lower()
        if named in _PATTERNS:
            return parse_pattern(text, _PATTERNS[named], zone, timeout)
        if named not in _BUILT_IN:
            return parse_pattern(text, existing_format, zone, timeout)
    candidate = text.strip()
    opening = _zone_suffix(candidate)
    region = candidate[opening + 1:-1] if opening is not None else None
    if opening is not None:
        candidate = candidate[:opening]
    if re.fullmatch(r"-?\d+", candidate):
        return datetime.fromtimestamp(int(candidate), tz=UTC)
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise ExpressionError(f"`{text}` is not an ISO date (e.g. 2024-01-31T10:00:00Z): "
                              "give its pattern with existingFormat='dd/MM/yyyy'") from None
    if region:
        return parsed.replace(tzinfo=zone_of(region, "UTC")) if parsed.tzinfo is None \
            else parsed.astimezone(zone_of(region, "UTC"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def add(value: datetime, amount: Any, unit: str) -> datetime:
    """`dateAdd`: calendar units keep the wall clock, time units move the instant."""
    factory = _UNITS.get(str(unit).upper())
    if factory is None:
        raise ExpressionError(f"dateAdd: unknown unit `{unit}`; use one of {', '.join(_UNITS)}")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise ExpressionError(f"dateAdd: the amount must be a number, not {amount!r}")
    delta = factory(int(amount))
    if isinstance(delta, timedelta):
        return (value.astimezone(UTC) + delta).astimezone(value.tzinfo)
    return value + delta


def epoch(value: datetime, unit: str) -> int:
    """Seconds, micro- or nanoseconds since the epoch."""
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds
    if unit == "seconds":
        return micros // 10**6
    if unit == "millis":
        return micros // 1000
    if unit == "micros":
        return micros
    return micros * 1000
