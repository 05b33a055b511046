"""What every fuzz test shares: its hypothesis settings, the bound on each case, the seed corpus.

A case ends in a result or in one of the known error classes, within :data:`CASE_SECONDS` and
without growing the process by more than :data:`CASE_MEGABYTES`: a hang or a blow-up fails the test
instead of stalling CI. ``PODIUM_FUZZ_EXAMPLES=N`` runs N cases per test, randomly seeded (the
default run is a few hundred cases in all, the same ones every time).
"""
from __future__ import annotations

import ast
import faulthandler
import os
import resource
import signal
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[2]
CASE_SECONDS = 20.0
CASE_MEGABYTES = 512
LONG_RUN = "PODIUM_FUZZ_EXAMPLES" in os.environ


def fuzz_settings(examples: int) -> settings:
    """``examples`` cases, the same ones on every run; ``PODIUM_FUZZ_EXAMPLES`` cases, new ones, in a
    long run."""
    return settings(max_examples=int(os.environ.get("PODIUM_FUZZ_EXAMPLES", examples)),
                    derandomize=not LONG_RUN, database=None, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


class CaseTimeout(BaseException):
    """A case ran longer than its bound (a BaseException, so that no ``except Exception`` in the
    code under test can swallow it)."""


@contextmanager
def bounded(seconds: float = CASE_SECONDS, megabytes: int = CASE_MEGABYTES) -> Iterator[None]:
    """Fails the case that runs longer than ``seconds`` or raises the process's peak memory by more
    than ``megabytes``. A hang in C code (which a signal cannot interrupt) ends the whole run after
    four times ``seconds``, with every thread's traceback, rather than stalling it."""
    def expire(signum: int, frame: FrameType | None) -> None:
        raise CaseTimeout(f"the case ran longer than {seconds} s")

    before = _peak_megabytes()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds * 4, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()
    grown = _peak_megabytes() - before
    assert grown <= megabytes, f"the case raised the peak memory by {grown:.0f} MB"


def _peak_megabytes() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _is_flow(value: Any) -> bool:
    return isinstance(value, dict) and {"id", "namespace", "tasks"} <= set(value)


def _literal_flows(path: Path) -> Iterator[str]:
    """The flow sources written as string literals in one test module."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "namespace:" in node.value:
            text = textwrap.dedent(node.value).lstrip("\n")
            try:
                if _is_flow(yaml.safe_load(text)):
                    yield text
            except yaml.YAMLError:
                continue


@cache
def corpus() -> tuple[str, ...]:
    """The seed flows: the examples in flows/, the invalid fixtures and the flows the tests write,
    deduplicated, in a stable order."""
    files = sorted([*(ROOT / "flows").glob("*.yaml"), *(ROOT / "tests" / "flows").rglob("*.yaml")])
    sources = [path.read_text(encoding="utf-8") for path in files]
    for module in sorted((ROOT / "tests").rglob("*.py")):
        if "fuzz" not in module.parts:
            sources.extend(_literal_flows(module))
    return tuple(dict.fromkeys(sources))
