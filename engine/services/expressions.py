"""L3: what expressions rendered outside a task may reach (``ExpressionIO`` for the executor).

The executor renders flowable properties (If conditions, ForEach values, Subflow inputs...),
``execution.Labels``, flow outputs and input defaults. Those may call ``kv()``, ``read()``,
``fileSize()``, ``fileExists()`` and ``now()`` as in a task. ``secret()`` is refused here: a
value rendered by the executor is stored as is (labels, outputs), so a secret would be kept in
clear; read secrets in a runnable task, whose logs and outputs are masked.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from engine.tasks.expression_io import StorageIO
from engine.templating import ExpressionError

if TYPE_CHECKING:
    from engine.services.runtime import Env


class ExecutorIO(StorageIO):
    def __init__(self, env: Env, namespace: str | None) -> None:
        super().__init__(env.storage, namespace, env.clock, env.kv.get_any, env.encryption_key)

    def secret(self, key: str) -> str:
        raise ExpressionError(f"secret('{key}') is not available in flow outputs, labels or flowable task "
                              "properties (the executor would store its value in clear); use it in a "
                              "runnable task, whose logs and outputs are masked")
