"""L1 pure core: ISO-8601 durations (``PT5M``, ``P1DT2H``, ``PT0.5S``) as Kestra writes them."""
from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """Parses an ISO-8601 duration; raises DurationError saying what a valid one looks like."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise DurationError(f"'{text}' is not an ISO-8601 duration (examples: PT30S, PT5M, PT1H30M, P1D)")
    parts = {k: float(v) for k, v in match.groupdict().items() if v and k != "sign"}
    try:
        delta = timedelta(weeks=parts.get("weeks", 0), days=parts.get("days", 0),
                          hours=parts.get("hours", 0), minutes=parts.get("minutes", 0),
                          seconds=parts.get("seconds", 0))
    except OverflowError:
        raise DurationError(f"'{text[:40]}' is longer than the longest duration, "
                            f"P{timedelta.max.days}D") from None
    return -delta if match.group("sign") else delta


def is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except DurationError:
        return False
    return True


def format_duration(delta: timedelta) -> str:
    """The ISO-8601 form of ``delta`` (``PT1H30M``), as Java's ``Duration.toString`` prints it."""
    total = delta.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{int(hours)}H"
    if minutes:
        text += f"{int(minutes)}M"
    if seconds or text == "PT":
        text += f"{seconds:g}S"
    return sign + text
