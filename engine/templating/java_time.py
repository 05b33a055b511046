"""L1 pure core: Java `DateTimeFormatter` patterns (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX`), formatting
and parsing, so that date filters accept exactly what Kestra users write. English names only.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import regex as regex_engine

from engine.templating.errors import ExpressionError
from engine.templating.patterns import MAX_PATTERN_SIZE, pattern_size

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_LONG_ZONE_NAMES = {"UTC": "Coordinated Universal Time", "GMT": "Greenwich Mean Time"}

PatternPart = tuple[str, int] | str   # (letter, count) or literal text


def tokenize_pattern(pattern: str) -> list[PatternPart]:
    """Split a Java pattern into letter runs and literal text; `[ ]` optional marks are dropped."""
    parts: list[PatternPart] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            literal, i = _quoted(pattern, i)
            parts.append(literal)
        elif char.isascii() and char.isalpha():
            run = len(pattern[i:]) - len(pattern[i:].lstrip(char))
            parts.append((char, run))
            i += run
        else:
            if char not in "[]":
                parts.append(char)
            i += 1
    return parts


def _quoted(pattern: str, start: int) -> tuple[str, int]:
    """The literal starting at the quote at `start` (`''` is one quote) and where it ends."""
    if pattern.startswith("''", start):
        return "'", start + 2
    literal, i = "", start + 1
    while i < len(pattern):
        if pattern.startswith("''", i):
            literal, i = literal + "'", i + 2
        elif pattern[i] == "'":
            return literal, i + 1
        else:
            literal, i = literal + pattern[i], i + 1
    raise ExpressionError(f"Unclosed quote in the date pattern `{pattern}`: close literal text with '")


def zone_of(name: str | None, default: str) -> tzinfo:
    """An IANA zone (`Europe/Paris`), `UTC`, `Z` or a fixed offset like `+02:00`."""
    name = name or default
    if name in ("Z", "UTC") or re.fullmatch(r"[+-]\d{2}(:?\d{2})?", name):
        if name in ("Z",):
            return UTC
        if name == "UTC":
            return ZoneInfo("UTC")
        sign = -1 if name[0] == "-" else 1
        digits = name[1:].replace(":", "")
        return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExpressionError(f"Unknown time zone `{name}`: use an IANA name such as "
                              "`Europe/Paris`, `UTC` or an offset such as `+02:00`") from None


def zone_id(value: datetime) -> str:
    """Java `ZoneId.toString`: the region name, or `Z` / `+02:00` for fixed offsets."""
    if isinstance(value.tzinfo, ZoneInfo):
        return value.tzinfo.key
    return offset_text(value, "XXXXX")


def offset_text(value: datetime, style: str) -> str:
    """Offset in the styles of X (Z for zero), x (never Z), Z and O pattern letters."""
    offset = value.utcoffset() or timedelta(0)
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    letter, count = style[0], len(style)
    if letter == "O":
        if not seconds:
            return "GMT"
        return f"GMT{sign}{hours}" + (f":{minutes:02d}" if minutes else "") if count == 1 \
            else f"GMT{sign}{hours:02d}:{minutes:02d}"
    if letter == "X" and not seconds:
        return "Z"
    if count == 1:
        return f"{sign}{hours:02d}" + (f"{minutes:02d}" if minutes else "")
    colon = ":" if count in (3, 5) else ""
    text = f"{sign}{hours:02d}{colon}{minutes:02d}"
    return text + (f"{colon}{secs:02d}" if secs and count >= 4 else "")


def _year(value: datetime, count: int) -> str:
    return f"{value.year % 100:02d}" if count == 2 else f"{value.year:0{count}d}"


def _text_field(names: tuple[str, ...], index: int, count: int) -> str:
    name = names[index]
    return name[:3] if count <= 3 else (name if count == 4 else name[0])


def _fraction(value: datetime, count: int) -> str:
    return (f"{value.microsecond:06d}" + "000")[:count].ljust(count, "0")


def _zone_name(value: datetime, count: int) -> str:
    short = value.tzname() or zone_id(value)
    return _LONG_ZONE_NAMES.get(short, zone_id(value)) if count >= 4 else short


_FIELDS: dict[str, Callable[[datetime, int], str]] = {
    "G": lambda v, c: "AD" if c < 4 else "Anno Domini",
    "y": _year, "u": _year,
    "Y": lambda v, c: _year(v.replace(year=v.isocalendar()[0]), c),
    "M": lambda v, c: f"{v.month:0{c}d}" if c <= 2 else _text_field(MONTHS, v.month - 1, c),
    "L": lambda v, c: f"{v.month:0{c}d}" if c <= 2 else _text_field(MONTHS, v.month - 1, c),
    "d": lambda v, c: f"{v.day:0{c}d}",
    "D": lambda v, c: f"{v.timetuple().tm_yday:0{c}d}",
    "Q": lambda v, c: f"{(v.month - 1) // 3 + 1:0{c}d}" if c <= 2 else f"Q{(v.month - 1) // 3 + 1}",
    "w": lambda v, c: f"{v.isocalendar()[1]:0{c}d}",
    "E": lambda v, c: _text_field(DAYS, v.weekday(), c),
    "e": lambda v, c: f"{(v.weekday() + 1) % 7 + 1:0{c}d}" if c <= 2 else _text_field(DAYS, v.weekday(), c),
    "a": lambda v, c: "AM" if v.hour < 12 else "PM",
    "H": lambda v, c: f"{v.hour:0{c}d}",
    "k": lambda v, c: f"{v.hour or 24:0{c}d}",
    "K": lambda v, c: f"{v.hour % 12:0{c}d}",
    "h": lambda v, c: f"{v.hour % 12 or 12:0{c}d}",
    "m": lambda v, c: f"{v.minute:0{c}d}",
    "s": lambda v, c: f"{v.second:0{c}d}",
    "S": _fraction,
    "n": lambda v, c: f"{v.microsecond * 1000:0{c}d}",
    "A": lambda v, c: f"{(v.hour * 3600 + v.minute * 60 + v.second) * 1000 + v.microsecond // 1000:0{c}d}",
    "N": lambda v, c: f"{((v.hour * 3600 + v.minute * 60 + v.second) * 10**6 + v.microsecond) * 1000:0{c}d}",
    "V": lambda v, c: zone_id(v),
    "z": _zone_name,
    "O": lambda v, c: offset_text(v, "O" * c),
    "X": lambda v, c: offset_text(v, "X" * c),
    "x": lambda v, c: offset_text(v, "x" * c),
    "Z": lambda v, c: offset_text(v, "xx") if c <= 3 else (
        offset_text(v, "O" * 4) if c == 4 else offset_text(v, "XXXXX")),
}
_FIELDS["c"] = _FIELDS["e"]


def format_pattern(value: datetime, pattern: str) -> str:
    """Format an aware datetime with a Java DateTimeFormatter pattern."""
    out = []
    for part in tokenize_pattern(pattern):
        if isinstance(part, str):
            out.append(part)
            continue
        letter, count = part
        field = _FIELDS.get(letter)
        if field is None:
            raise ExpressionError(f"Unknown pattern letter `{letter}` in the date format `{pattern}` "
                                  "(put literal text in single quotes, e.g. 'T')")
        out.append(field(value, count))
    return "".join(out)


# -- parsing with a pattern (existingFormat) -------------------------------------------------
_OFFSET_RE = r"(?:Z|[+-]\d{2}(?::?\d{2})?(?::?\d{2})?)"
_PARSE_FIELDS: dict[str, Callable[[int], str]] = {
    "y": lambda c: r"(?P<year>\d{2})" if c == 2 else r"(?P<year>[+-]?\d{4,9})",
    "u": lambda c: r"(?P<year>\d{2})" if c == 2 else r"(?P<year>[+-]?\d{4,9})",
    "M": lambda c: r"(?P<month>\d{1,2})" if c <= 2 else r"(?P<monthname>[A-Za-z]+)",
    "L": lambda c: r"(?P<month>\d{1,2})" if c <= 2 else r"(?P<monthname>[A-Za-z]+)",
    "d": lambda c: r"(?P<day>\d{1,2})",
    "D": lambda c: r"(?P<yday>\d{1,3})",
    "H": lambda c: r"(?P<hour>\d{1,2})", "k": lambda c: r"(?P<hour>\d{1,2})",
    "h": lambda c: r"(?P<hour12>\d{1,2})", "K": lambda c: r"(?P<hour12>\d{1,2})",
    "m": lambda c: r"(?P<minute>\d{1,2})", "s": lambda c: r"(?P<second>\d{1,2})",
    "S": lambda c: rf"(?P<fraction>\d{{{c}}})", "n": lambda c: r"(?P<nano>\d{1,9})",
    "a": lambda c: r"(?P<ampm>[AaPp][Mm])", "E": lambda c: r"[A-Za-z]+", "e": lambda c: r"\w+",
    "X": lambda c: rf"(?P<offset>{_OFFSET_RE})", "x": lambda c: rf"(?P<offset>{_OFFSET_RE})",
    "Z": lambda c: rf"(?P<offset>{_OFFSET_RE}|GMT{_OFFSET_RE}?)",
    "V": lambda c: r"(?P<zone>[A-Za-z_]+(?:/[A-Za-z_+\-0-9]+)*|Z|[+-]\d{2}:?\d{2})",
    "z": lambda c: r"(?P<zonename>[A-Za-z]+)", "G": lambda c: r"[A-Za-z]+",
}


def _pattern_regex(pattern: str) -> regex_engine.Pattern[str]:
    pieces = []
    fields: set[str] = set()
    for part in tokenize_pattern(pattern):
        if isinstance(part, str):
            pieces.append(re.escape(part))
            continue
        builder = _PARSE_FIELDS.get(part[0])
        if builder is None:
            raise ExpressionError(f"The pattern letter `{part[0]}` is not supported for parsing "
                                  f"in existingFormat `{pattern}`")
        piece = builder(part[1])
        field = piece[4:piece.index(">")] if piece.startswith("(?P<") else None
        if field in fields:
            raise ExpressionError(f"The date pattern `{pattern}` repeats a field")
        fields.add(field or "")
        pieces.append(piece)
    source = "".join(pieces) + r"\Z"
    if pattern_size(source) > MAX_PATTERN_SIZE:
        raise ExpressionError(f"The date pattern `{pattern[:100]}` is too large")
    return regex_engine.compile(source, regex_engine.IGNORECASE)


def parse_pattern(text: str, pattern: str, zone: tzinfo, timeout: float | None = None) -> datetime:
    """Parse `text` written with a Java pattern; no zone in the text means `zone`. Adjacent
    fields such as `EG` backtrack polynomially: TimeoutError after `timeout` seconds."""
    match = _pattern_regex(pattern).match(text.strip(), timeout=timeout, concurrent=True)
    if not match:
        raise ExpressionError(f"The date `{text}` does not match the format `{pattern}`")
    fields = {k: v for k, v in match.groupdict().items() if v is not None}
    try:
        return _assemble(fields).replace(tzinfo=_parsed_zone(fields, zone))
    except ValueError as error:
        raise ExpressionError(f"The date `{text}` is not valid for `{pattern}`: {error}") from None


def _assemble(fields: dict[str, str]) -> datetime:
    year = int(fields.get("year", 1970))
    if len(fields.get("year", "")) == 2:
        year += 2000
    month = int(fields["month"]) if "month" in fields else _month_number(fields.get("monthname"))
    day = int(fields.get("day", 1))
    hour = int(fields.get("hour", 0))
    if "hour12" in fields:
        hour = int(fields["hour12"]) % 12 + (12 if fields.get("ampm", "am").lower() == "pm" else 0)
    micro = int((fields.get("fraction", "") + "000000")[:6]) if "fraction" in fields \
        else int(fields.get("nano", 0)) // 1000
    result = datetime(year, month, day, hour % 24, int(fields.get("minute", 0)),
                      int(fields.get("second", 0)), micro)
    if "yday" in fields:
        result = result.replace(month=1, day=1) + timedelta(days=int(fields["yday"]) - 1)
    return result


def _month_number(name: str | None) -> int:
    if name is None:
        return 1
    for index, month in enumerate(MONTHS):
        if month.lower().startswith(name.lower()[:3]):
            return index + 1
    raise ValueError(f"unknown month name {name}")


def _parsed_zone(fields: dict[str, str], default: tzinfo) -> tzinfo:
    if "zone" in fields:
        return zone_of(fields["zone"], "UTC")
    if "offset" in fields:
        offset = fields["offset"].removeprefix("GMT") or "Z"
        return zone_of(offset if offset == "Z" or ":" in offset or len(offset) <= 3
                       else offset[:3] + ":" + offset[3:5], "UTC")
    if "zonename" in fields:
        return zone_of(fields["zonename"], "UTC")
    return default


def start_of_day(value: date, zone: tzinfo) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=zone)
