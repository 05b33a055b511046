"""The rows bench/run.py measures: one per workload and case, a value per mode, a target and its verdict."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    workload: str
    case: str
    unit: str                      # "s", "ms", "exec/s", "MB"
    values: dict[str, float | str] = field(default_factory=dict)   # mode or "raw celery" -> value
    higher_is_better: bool = False
    ratio: bool = True             # report mode / raw celery
    target: tuple[str, Callable[[Row], bool | None]] | None = None  # (text, check on redis-pg)
    note: str = ""

    def add_note(self, text: str) -> None:
        self.note = f"{self.note}; {text}" if self.note else text

    def ratio_of(self, mode: str) -> float | None:
        podium, raw = self.values.get(mode), self.values.get("raw celery")
        if not self.ratio or not isinstance(podium, float) or not isinstance(raw, float) or raw <= 0:
            return None
        return podium / raw

    def verdict(self) -> str:
        if self.target is None:
            return ""
        try:
            met = self.target[1](self)
        except (TypeError, KeyError):
            met = None
        return "–" if met is None else ("met" if met else "MISSED")


def fmt(value: float | str | None, unit: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "exec/s":
        return f"{value:.0f}/s"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ratio_at_most(limit: float) -> Callable[[Row], bool | None]:
    def check(row: Row) -> bool | None:
        ratio = row.ratio_of("redis-pg")
        return None if ratio is None else ratio <= limit
    return check


def value_check(predicate: Callable[[float], bool]) -> Callable[[Row], bool | None]:
    def check(row: Row) -> bool | None:
        value = row.values.get("redis-pg")
        return None if not isinstance(value, float) else predicate(value)
    return check


class Results:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.errors: list[str] = []

    def row(self, workload: str, case: str, unit: str, **options: Any) -> Row:
        note = options.pop("note", "")
        for row in self.rows:
            if row.workload == workload and row.case == case:
                for key, value in options.items():
                    if value is not None and value != "":
                        setattr(row, key, value)
                break
        else:
            row = Row(workload, case, unit, **options)
            self.rows.append(row)
        if note:
            row.add_note(note)
        return row

    def ordered(self) -> list[Row]:
        groups = ["W1", "W2", "W3", "CPU", "W4", "FE", "RSS"]
        return sorted(self.rows, key=lambda row: groups.index(row.workload) if row.workload in groups else 99)


def cpu_rows(results: Results, column: str, before: dict[str, float], after: dict[str, float], count: int,
             label: str) -> None:
    total = 0.0
    for role in before:
        used = (after.get(role, before[role]) - before[role]) * 1000 / count
        total += used
        results.row("CPU", f"{label}: {role}", "ms", ratio=False).values[column] = used
    results.row("CPU", f"{label}: total", "ms", ratio=True).values[column] = total


def rss_rows(samples: dict[str, dict[str, float]]) -> list[Row]:
    rows = []
    for role, label in [("embedded", "embedded process (runtime + this driver)"), ("executor", "executor process"),
                        ("worker", "worker, largest process"), ("worker-total", "worker, main + pool children"),
                        ("beat", "beat process"), ("raw celery", "raw celery worker, largest process")]:
        if role not in samples:
            continue
        row = Row("RSS", label, "MB", ratio=False,
                  target=("< 250 MB", value_check(lambda v: v < 250)) if role in ("executor", "worker") else None)
        row.values.update(samples[role])
        rows.append(row)
    return rows
