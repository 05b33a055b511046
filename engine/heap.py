"""L2: the garbage collector settings of Podium's long-running processes.

CPython collects its youngest generation every 700 allocations and, from there, walks older
generations that in a service hold everything built at start-up (modules, pydantic schemas, the
plugin registry) and the caches (parsed task runs, flows). A profile of an executor step put a
third of its time in collections triggered while parsing a dozen task runs. So:

- ``tune_collector()`` at process start: the youngest generation is collected every
  ``YOUNG_THRESHOLD`` allocations, the older ones keep CPython's ratios to it. Cyclic
  garbage lives a little longer; nothing else changes.
- ``freeze_startup_objects()`` once a process is ready (and in each prefork child once its
  services are built): what exists then is moved out of the collector's sight for good. In a
  prefork worker this also keeps the collector from writing to pages the children share.
"""
from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_collector() -> None:
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def freeze_startup_objects() -> None:
    gc.collect()
    gc.freeze()
