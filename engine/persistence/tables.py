"""L2 adapter: the SQLAlchemy Core table definitions Podium queries.

Migrations (``migrations/versions``) create these tables; they are written out by hand
there so an old migration never changes when this file does. ``tests/persistence`` checks
that the migrated schema and this metadata agree.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

from engine.persistence.types import JsonType, StorableString, StorableText, UtcDateTime

# Named constraints so that Alembic can later alter them on every dialect.
metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# SQLite only auto-increments an ``INTEGER PRIMARY KEY`` column, not a BIGINT one.
AutoId = BigInteger().with_variant(Integer(), "sqlite")
ID = String(64)
NS = String(150)
FLOW = String(100)
STATE = String(16)

flows = Table(
    "flows", metadata,
    Column("namespace", NS, primary_key=True),
    Column("flow_id", FLOW, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("source", Text, nullable=False),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    Column("created", UtcDateTime, nullable=False),
)

executions = Table(
    "executions", metadata,
    Column("id", ID, primary_key=True),
    Column("namespace", NS, nullable=False),
    Column("flow_id", FLOW, nullable=False),
    Column("flow_revision", Integer, nullable=False),
    Column("state", STATE, nullable=False),
    Column("start_date", UtcDateTime),
    Column("end_date", UtcDateTime),
    Column("labels", JsonType, nullable=False),
    # Everything else of the record (inputs, outputs, variables, state history, metadata).
    Column("body", JsonType, nullable=False),
    Column("parent_id", ID),
    Column("original_id", ID),
    Column("trigger", JsonType),
    Column("schedule_date", UtcDateTime),
    Column("schema_version", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    # Raised by every write of the execution or its task runs' content, under the row lock: an
    # executor that saved version v may reuse what it saved while the row says v (StepCache).
    Column("version", Integer, nullable=False, server_default="0"),
    Index(None, "namespace", "flow_id", "state"),
    Index(None, "state"),
    Index(None, "start_date"),
    Index(None, "parent_id"),
)

# Labels are also kept one row each so that label filters are plain indexed joins.
execution_labels = Table(
    "execution_labels", metadata,
    Column("execution_id", ID, ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", StorableString(255), primary_key=True),
    Column("value", StorableText, nullable=False),
    Index(None, "key", "value"),
)

task_runs = Table(
    "task_runs", metadata,
    Column("id", ID, primary_key=True),
    Column("execution_id", ID, ForeignKey("executions.id", ondelete="CASCADE"), nullable=False),
    # Order of the run in ``Execution.task_run_list``.
    Column("position", Integer, nullable=False),
    Column("task_id", String(100), nullable=False),
    Column("parent_task_run_id", ID),
    Column("value", StorableText),
    Column("iteration", Integer),
    Column("state", STATE, nullable=False),
    Column("attempts", JsonType, nullable=False),
    Column("outputs", JsonType, nullable=False),
    Column("body", JsonType, nullable=False),
    # The lease of the current attempt (docs/reliability.md): ``attempt`` is its number, ``worker_id``
    # the worker that claimed it (NULL: dispatched, not taken yet), ``lease_until`` when the reaper
    # acts if nobody renewed it. Written by the executor's saves, the worker's claim and heartbeats.
    Column("attempt", Integer, nullable=False, server_default="0"),
    Column("worker_id", String(255)),
    Column("lease_until", UtcDateTime),
    # Raised by each write of the row's content (not by lease updates): a reader that parsed the
    # row at this revision can reuse what it parsed (ExecutionRepository's TaskRunMemo).
    Column("revision", Integer, nullable=False, server_default="0"),
    Index(None, "execution_id", "position"),
    Index(None, "lease_until"),
)

# Terminal results a worker recorded before sending them (an outbox): the executor deletes the row
# when it applies the result; beat re-sends the ones still here at ``replay_at`` (a lost message).
task_run_results = Table(
    "task_run_results", metadata,
    Column("task_run_id", ID, primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("execution_id", ID, nullable=False),
    Column("event", JsonType, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("replay_at", UtcDateTime, nullable=False),
    Index(None, "replay_at"),
    Index(None, "execution_id"),
)

# The task after a fan-out, created with it (a join): how many of the fan-out's children still have
# to end SUCCESS before the worker that writes the last of them runs it; NULL once one did not
# (the executor then decides). docs/celery.md, "Joins".
task_run_joins = Table(
    "task_run_joins", metadata,
    Column("task_run_id", ID, primary_key=True),
    Column("execution_id", ID, ForeignKey("executions.id", ondelete="CASCADE"), nullable=False),
    Column("remaining", Integer),
    Index(None, "execution_id"),
)

# Commands of an executor step that leave the process (a subflow's child, a ForEachItem's split
# and merge, an execution's end as its parent and Flow triggers see it), saved with the step: the
# row goes when the command's reply is applied (or, for a command without one, when it is done);
# beat runs what is still here at ``replay_at`` again (docs/reliability.md, "Pending commands").
pending_commands = Table(
    "pending_commands", metadata,
    Column("id", String(128), primary_key=True),
    Column("execution_id", ID, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", JsonType, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("replay_at", UtcDateTime, nullable=False),
    Index(None, "replay_at"),
    Index(None, "execution_id"),
)

logs = Table(
    "logs", metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("namespace", NS, nullable=False),
    Column("flow_id", FLOW, nullable=False),
    Column("execution_id", ID),
    Column("task_run_id", ID),
    Column("task_id", String(100)),
    Column("trigger_id", String(100)),
    Column("attempt", Integer),
    Column("level", String(8), nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("message", StorableText, nullable=False),
    Index(None, "execution_id", "id"),
    Index(None, "namespace", "flow_id", "timestamp"),
)

kv = Table(
    "kv", metadata,
    Column("namespace", NS, primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", JsonType),
    Column("type", String(16), nullable=False),
    Column("expiration", UtcDateTime),
    Column("description", StorableText),
    Column("created", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
)

timers = Table(
    "timers", metadata,
    Column("id", String(255), primary_key=True),
    Column("due_at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("execution_id", ID),
    Column("task_run_id", ID),
    Column("payload", JsonType, nullable=False),
    # Set while a beat/executor handles the timer; an expired claim makes it due again.
    Column("claimed_until", UtcDateTime),
    Index(None, "due_at"),
    Index(None, "execution_id"),
)

execution_queue = Table(
    "execution_queue", metadata,
    Column("position", AutoId, primary_key=True, autoincrement=True),
    Column("namespace", NS, nullable=False),
    Column("flow_id", FLOW, nullable=False),
    Column("execution_id", ID, nullable=False, unique=True),
    Column("enqueued_at", UtcDateTime, nullable=False),
    Index(None, "namespace", "flow_id", "position"),
)

trigger_state = Table(
    "trigger_state", metadata,
    Column("namespace", NS, primary_key=True),
    Column("flow_id", FLOW, primary_key=True),
    Column("trigger_id", String(100), primary_key=True),
    Column("next_date", UtcDateTime),
    Column("last_date", UtcDateTime),
    Column("last_execution_id", ID),
    Column("backfill", JsonType),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    # Free-form per trigger type (a poller's cursor, a running-evaluation date...).
    Column("data", JsonType, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    # Why the trigger last failed to start an execution, and when (``podium triggers list``).
    Column("last_error", Text),
    Column("last_error_date", UtcDateTime),
    Index(None, "next_date"),
)

fired = Table(
    "fired", metadata,
    Column("namespace", NS, primary_key=True),
    Column("flow_id", FLOW, primary_key=True),
    Column("trigger_id", String(100), primary_key=True),
    Column("fire_time", UtcDateTime, primary_key=True),
    Column("execution_id", ID),
    Column("created", UtcDateTime, nullable=False),
)

# One row per singleton role ("beat"): who holds it and until when (see engine/persistence/leader.py).
leader_lock = Table(
    "leader_lock", metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("acquired", UtcDateTime, nullable=False),
)

# Per-process aggregates of the metrics only a process can observe (executor decisions, task run
# phases): each process writes its own rows (``source``) with its totals since it started, so that
# the web process can sum them at scrape time (docs/operations.md, "Metrics across processes").
metric_rollups = Table(
    "metric_rollups", metadata,
    Column("source", String(128), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("labels", String(255), primary_key=True),
    # {upper bound as text (e.g. "0.5", "+Inf"): observations in that bucket}, not cumulative.
    Column("buckets", JsonType, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("sum", Float, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    Index(None, "updated"),
)

# Flow trigger windows: the conditions met so far in one window of one trigger (docs/flow-triggers.md).
trigger_windows = Table(
    "trigger_windows", metadata,
    Column("namespace", NS, primary_key=True),
    Column("flow_id", FLOW, primary_key=True),
    Column("trigger_id", String(100), primary_key=True),
    Column("condition_id", String(100), primary_key=True),
    Column("window_start", UtcDateTime, primary_key=True),
    Column("window_end", UtcDateTime, nullable=False),
    Column("met", JsonType, nullable=False),
    Column("outputs", JsonType, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    Index(None, "window_end"),
)

# One row per (upstream execution, state change, trigger) a Flow trigger handled: the first claim wins.
flow_trigger_events = Table(
    "flow_trigger_events", metadata,
    Column("execution_id", ID, primary_key=True),
    Column("state_index", Integer, primary_key=True),
    Column("namespace", NS, primary_key=True),
    Column("flow_id", FLOW, primary_key=True),
    Column("trigger_id", String(100), primary_key=True),
    Column("fired_execution_id", ID),
    Column("created", UtcDateTime, nullable=False),
    # The trigger outputs of a fire decided with the claim, until its execution is recorded.
    Column("fire_outputs", JsonType),
    Index(None, "created"),
)

# The metrics task runs report (Kestra's MetricEntry): script protocol lines, ``ctx.metric``.
task_run_metrics = Table(
    "task_run_metrics", metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("namespace", NS, nullable=False),
    Column("flow_id", FLOW, nullable=False),
    Column("execution_id", ID, nullable=False),
    Column("task_run_id", ID, nullable=False),
    Column("task_id", String(100), nullable=False),
    Column("attempt", Integer),
    Column("name", String(255), nullable=False),
    Column("type", String(16), nullable=False),
    Column("value", Float, nullable=False),
    Column("tags", JsonType, nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Index(None, "execution_id", "id"),
)
