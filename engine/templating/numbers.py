"""L1 pure core: Java `DecimalFormat` patterns (`#.##`, `0.00`, `#,##0.0`, `0%`) for numberFormat."""
from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from engine.templating.errors import ExpressionError

_PATTERN = re.compile(r"^(?P<prefix>[^#0,.]*)(?P<int>[#0,]*)(?:\.(?P<frac>[#0]*))?(?P<suffix>[^#0,.]*)$")


def decimal_format(value: Any, pattern: str) -> str:
    """Format `value` with a DecimalFormat pattern, rounding half-even like Java."""
    match = _PATTERN.match(pattern.split(";", 1)[0])
    if not match or not (match.group("int") or match.group("frac")):
        raise ExpressionError(f"numberFormat: `{pattern}` is not a supported DecimalFormat pattern "
                              "(use # and 0 digits, an optional `,` grouping and `.` fraction)")
    number = Decimal(str(value))
    prefix, suffix = match.group("prefix"), match.group("suffix")
    if "%" in prefix + suffix:
        number *= 100
    integer, fraction = match.group("int") or "", match.group("frac") or ""
    min_fraction, max_fraction = fraction.count("0"), len(fraction)
    rounded = number.quantize(Decimal(1).scaleb(-max_fraction), rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    whole, _, decimals = f"{abs(rounded):f}".partition(".")
    decimals = decimals.ljust(max_fraction, "0")[:max_fraction]
    while len(decimals) > min_fraction and decimals.endswith("0"):
        decimals = decimals[:-1]
    whole = _integer_part(whole, integer)
    body = whole + ("." + decimals if decimals else "")
    return f"{sign}{prefix.replace(chr(39), '')}{body}{suffix.replace(chr(39), '')}"


def _integer_part(whole: str, integer_pattern: str) -> str:
    min_digits = integer_pattern.count("0")
    whole = whole.lstrip("0").rjust(min_digits, "0")
    if "," in integer_pattern:
        group = len(integer_pattern) - integer_pattern.rfind(",") - 1
        if group > 0:
            head = len(whole) % group or group
            parts = [whole[:head]] + [whole[i:i + group] for i in range(head, len(whole), group)]
            whole = ",".join(p for p in parts if p)
    return whole
