"""The names of Podium's Celery tasks, which every process sends or consumes."""

RUN_TASK_RUN = "podium.run_task_run"  # worker: one task run attempt, or a chain link
RUN_TASK_RUNS = "podium.run_task_runs"  # worker: a fan-out's chunk of attempts
PROCESS_EVENT = "podium.process_event"  # executor: one event of one execution
