"""L1 pure core: Amazon Ion text records, one value a line, as Kestra's ``FileSerde`` writes them.

Kestra stores a query result (``fetchType: STORE``) as Ion text: each row is written by
Jackson's Ion mapper followed by ``\\n``, so a file is read line by line and every line is one
value. ForEachItem, ``read()`` and the script library rely on that shape.

The writer is Podium's own (a few dozen lines for the value types SQL drivers produce: null, bool,
int, Decimal, float, str, bytes, date, datetime, time, UUID, list, dict): it streams, writes no
``$ion_1_0`` marker (as Jackson does not), and is far faster than ``amazon.ion``'s pure-Python
text writer. Reading uses the ``amazon-ion`` package, the reference parser, one line at a time.
"""
from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any
from uuid import UUID


def dumps(value: Any) -> str:
    """One value as Ion text on one line (no trailing newline)."""
    parts: list[str] = []
    _write(value, parts.append)
    return "".join(parts)


def write_records(out: IO[bytes], rows: Iterable[Any]) -> int:
    """Writes each row as one Ion line to ``out``; returns how many were written."""
    count = 0
    for row in rows:
        out.write(dumps(row).encode("utf-8") + b"\n")
        count += 1
    return count


def loads(line: str | bytes) -> Any:
    """The one Ion value of ``line``, as plain Python (dict, list, str, int, Decimal, datetime...)."""
    from amazon.ion import simpleion  # the reference parser; imported where a file is read

    return _plain(simpleion.loads(line, single_value=True))


def read_records(source: IO[bytes]) -> Iterator[Any]:
    """The values of an Ion-lines file, one per non-blank line, streamed."""
    for line in source:
        if line.strip():
            yield loads(line)


def _write(value: Any, emit: Any) -> None:
    if value is None:
        emit("null")
    elif isinstance(value, bool):
        emit("true" if value else "false")
    elif isinstance(value, int):
        emit(str(value))
    elif isinstance(value, float):
        emit(_float(value))
    elif isinstance(value, Decimal):
        emit(_decimal(value))
    elif isinstance(value, str):
        emit(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, datetime):
        emit(_timestamp(value))
    elif isinstance(value, date):
        emit(value.isoformat() + "T")
    elif isinstance(value, (time, UUID)):
        emit(json.dumps(value.isoformat() if isinstance(value, time) else str(value)))
    elif isinstance(value, (bytes, bytearray, memoryview)):
        emit("{{" + base64.b64encode(bytes(value)).decode("ascii") + "}}")
    elif isinstance(value, Mapping):
        emit("{")
        for index, (key, item) in enumerate(value.items()):
            emit(("," if index else "") + _symbol(str(key)) + ":")
            _write(item, emit)
        emit("}")
    elif isinstance(value, (list, tuple)):
        emit("[")
        for index, item in enumerate(value):
            if index:
                emit(",")
            _write(item, emit)
        emit("]")
    else:
        emit(json.dumps(str(value), ensure_ascii=False))


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    text = repr(value).replace("e+", "e")
    return text if "e" in text else text + "e0"


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        return _float(float(value))  # Ion decimals have no NaN/infinity; its floats do
    text = str(value)
    if "." in text and "E" not in text:
        return text  # 1.50: Jackson's form, and already an Ion decimal
    sign, digits, exponent = value.as_tuple()
    coefficient = ("-" if sign else "") + ("".join(map(str, digits)) or "0")
    return f"{coefficient}d{exponent}"


def _timestamp(value: datetime) -> str:
    offset = value.utcoffset()
    text = value.replace(tzinfo=None).isoformat(timespec="microseconds" if value.microsecond else "seconds")
    if offset is None:
        return text + "-00:00"  # Ion's "unknown offset": a local date-time of the database
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return text + "Z"
    sign = "+" if minutes > 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _symbol(name: str) -> str:
    if name.isidentifier() and name.isascii() and name not in _KEYWORDS:
        return name
    return "'" + json.dumps(name, ensure_ascii=False)[1:-1].replace("'", "\\'") + "'"


_KEYWORDS = frozenset({"null", "true", "false", "nan"})


def _plain(value: Any) -> Any:
    """``amazon.ion``'s IonPy* values as the plain Python types they extend."""
    from amazon.ion.core import IonType

    ion_type = getattr(value, "ion_type", None)
    if ion_type is None or getattr(value, "is_null", False) or ion_type is IonType.NULL:
        return None if ion_type is not None else value
    if ion_type is IonType.STRUCT:
        return {str(key): _plain(item) for key, item in value.items()}
    if ion_type in (IonType.LIST, IonType.SEXP):
        return [_plain(item) for item in value]
    if ion_type is IonType.BOOL:
        return bool(value)
    if ion_type is IonType.INT:
        return int(value)
    if ion_type is IonType.FLOAT:
        return float(value)
    if ion_type is IonType.DECIMAL:
        return Decimal(value)
    if ion_type is IonType.TIMESTAMP:
        return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                        value.microsecond, value.tzinfo)
    if ion_type in (IonType.BLOB, IonType.CLOB):
        return bytes(value)
    return str(value)
