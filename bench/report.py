"""What the benchmarks share: the machine's CPU model, writing one marked section of docs/performance.md."""
from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
DOC_HEADER = ("# Performance\n\nMeasured figures, each section written by its benchmark (`bench/`). One "
              "noisy machine: read them as orders of magnitude.\n")


def write_section(start: str, end: str, text: str) -> None:
    """Replaces the section between the ``start`` and ``end`` markers (appends it if absent),
    keeping every other section of docs/performance.md."""
    current = DOC.read_text() if DOC.exists() else DOC_HEADER
    if start in current and end in current:
        before, rest = current.split(start, 1)
        after = rest.split(end, 1)[1]
        updated = before + text.rstrip("\n") + after
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    DOC.write_text(updated)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown CPU" where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"
