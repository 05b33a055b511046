"""L1 pure core: the executor's decision function and the operations on executions.

``advance(execution, flow, event, now, registry=..., renderer=...) -> Step`` is the only entry the
executor shell needs; ``create_execution``, ``restart``, ``replay``, ``change_task_run_state`` and
``resume`` are the operations on executions. See docs/executor.md.
"""

from engine.executor.commands import (
    CancelTimers,
    Command,
    DispatchTaskRuns,
    DispatchWorkingDirectory,
    ExecutionEnded,
    ExecutionPaused,
    KillTaskRuns,
    Log,
    MergeItemsOutputs,
    ResumeExecution,
    RetryExecution,
    ScheduleTimer,
    SplitItems,
    StartSubflow,
)
from engine.executor.core import advance, advance_all
from engine.executor.events import (
    Event,
    ItemsMerged,
    ItemsSplit,
    Kill,
    Resume,
    Start,
    SubflowEnded,
    SubflowStarted,
    TaskRunResult,
    TimerFired,
    TimerKind,
    Wake,
)
from engine.executor.operations import (
    OperationRefused,
    change_task_run_state,
    create_execution,
    replay,
    restart,
    resume,
    retry_execution,
)
from engine.executor.step_state import Step

__all__ = [
    "advance",
    "advance_all",
    "Step",
    "Event",
    "Start",
    "TaskRunResult",
    "TimerFired",
    "TimerKind",
    "SubflowStarted",
    "SubflowEnded",
    "ItemsSplit",
    "ItemsMerged",
    "Kill",
    "Resume",
    "Wake",
    "Command",
    "DispatchTaskRuns",
    "DispatchWorkingDirectory",
    "ScheduleTimer",
    "CancelTimers",
    "StartSubflow",
    "SplitItems",
    "MergeItemsOutputs",
    "KillTaskRuns",
    "RetryExecution",
    "ExecutionEnded",
    "ExecutionPaused",
    "ResumeExecution",
    "Log",
    "create_execution",
    "restart",
    "replay",
    "retry_execution",
    "change_task_run_state",
    "resume",
    "OperationRefused",
]
