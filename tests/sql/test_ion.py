"""engine/ion.py: Podium's Ion writer read back by the reference parser."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from engine import ion


def test_every_sql_value_type_round_trips() -> None:
    row = {"i": 1, "n": None, "b": True, "d": Decimal("1.50"), "e": Decimal("10"), "f": 2.5,
           "s": "it's \"q\" é\n", "ts": datetime(2024, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
           "local": datetime(2024, 1, 2, 3, 4, 5), "day": date(2024, 1, 2), "list": [1, [2]],
           "odd key": {"null": b"ab"}, "tz": datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))}
    text = ion.dumps(row)
    assert "\n" not in text and text.startswith('{i:1,n:null,b:true,d:1.50,e:10d0,f:2.5e0,')
    back = ion.loads(text)
    assert back == {**row, "day": datetime(2024, 1, 2)}


def test_records_are_one_a_line() -> None:
    out = io.BytesIO()
    assert ion.write_records(out, iter([{"a": 1}, {"a": 2}])) == 2
    assert out.getvalue() == b"{a:1}\n{a:2}\n"
    assert list(ion.read_records(io.BytesIO(out.getvalue() + b"\n"))) == [{"a": 1}, {"a": 2}]
