"""L3: a trigger that could not start an execution says so where its user looks.

Schedules and Flow triggers run inside beat and the executor: nobody is waiting for an answer,
so a failure to fire (inputs, labels or a condition that do not render, a flow that refuses the
execution) is reported three ways, in one call:

* the trigger's last error and its date, on its ``trigger_state`` row (``podium triggers list``);
* a log entry of the flow, with the trigger id and no execution (``podium triggers logs``);
* one WARNING line in the process log, for the operator.
"""
from __future__ import annotations

import logging

from engine.model.task import LogLevel
from engine.model.trigger_key import TriggerKey
from engine.persistence.logs import LogEntry
from engine.services.runtime import Env

logger = logging.getLogger(__name__)


class TriggerErrors:
    def __init__(self, env: Env) -> None:
        self.env = env

    def report(self, key: TriggerKey, message: str, *, level: LogLevel = LogLevel.ERROR) -> None:
        """Records that ``key`` failed to start an execution, because of ``message``.

        Never raises: the trigger's caller (a beat tick, an executor step) goes on whatever
        happens here, and a database that refuses the record still leaves the process log line.
        """
        logger.warning("%s did not start an execution: %s", key.describe(), one_line(message))
        now = self.env.clock()
        entry = LogEntry(namespace=key.namespace, flow_id=key.flow_id, trigger_id=key.trigger_id,
                         level=level, message=message, timestamp=now)
        try:
            with self.env.db.transaction() as session:
                self.env.logs.append([entry], session=session)
                self.env.trigger_states.record_error(key.namespace, key.flow_id, key.trigger_id, message, now,
                                                     session=session)
        except Exception as err:  # noqa: BLE001 - reporting must not break the caller's loop
            logger.warning("%s: its error could not be recorded: %s", key.describe(), one_line(str(err)))


def one_line(message: str) -> str:
    """A message on one line (a flow's problems come one per line)."""
    return " | ".join(line.strip() for line in message.splitlines() if line.strip())
