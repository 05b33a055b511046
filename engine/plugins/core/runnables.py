"""L1 pure core: every runnable core task spec of this package, gathered in one list.

The registry builder adds :data:`RUNNABLE_SPECS` to the flowable, trigger and condition specs.
"""
from __future__ import annotations

from engine.plugins.base import PluginSpec
from engine.plugins.core import (debug, execution, http, kv, log, namespace, output, sleep, state,
                                 storage, templating)

RUNNABLE_SPECS: list[PluginSpec] = [
    *log.SPECS, *debug.SPECS, *execution.SPECS, *output.SPECS, *sleep.SPECS, *kv.SPECS,
    *state.SPECS, *storage.SPECS, *templating.SPECS, *http.SPECS, *namespace.SPECS,
]
