"""Initial schema: flows, executions, task runs, logs, KV, timers, queue, triggers.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written out by hand (not imported from ``tables.py``) so this migration stays what it was
when later migrations change the tables.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.persistence.types import JsonType, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FALSE = sa.false()


def _id(name: str, **kwargs: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(64), **kwargs)  # type: ignore[arg-type]


def upgrade() -> None:
    _flows_and_executions()
    _runtime_tables()
    _trigger_tables()


def _flows_and_executions() -> None:
    op.create_table(
        "flows",
        sa.Column("namespace", sa.String(150), primary_key=True),
        sa.Column("flow_id", sa.String(100), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=FALSE),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("namespace", "flow_id", "revision", name="pk_flows"),
    )
    op.create_table(
        "executions",
        _id("id"),
        sa.Column("namespace", sa.String(150), nullable=False),
        sa.Column("flow_id", sa.String(100), nullable=False),
        sa.Column("flow_revision", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start_date", UtcDateTime),
        sa.Column("end_date", UtcDateTime),
        sa.Column("labels", JsonType, nullable=False),
        sa.Column("body", JsonType, nullable=False),
        _id("parent_id"),
        _id("original_id"),
        sa.Column("trigger", JsonType),
        sa.Column("schedule_date", UtcDateTime),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=FALSE),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
    )
    op.create_index("ix_executions_namespace_flow_id_state", "executions",
                    ["namespace", "flow_id", "state"])
    op.create_index("ix_executions_state", "executions", ["state"])
    op.create_index("ix_executions_start_date", "executions", ["start_date"])
    op.create_index("ix_executions_parent_id", "executions", ["parent_id"])
    op.create_table(
        "execution_labels",
        _id("execution_id"),
        sa.Column("key", sa.String(255)),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "key", name="pk_execution_labels"),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.id"], ondelete="CASCADE",
                                name="fk_execution_labels_execution_id_executions"),
    )
    op.create_index("ix_execution_labels_key_value", "execution_labels", ["key", "value"])
    op.create_table(
        "task_runs",
        _id("id"),
        _id("execution_id", nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("task_id", sa.String(100), nullable=False),
        _id("parent_task_run_id"),
        sa.Column("value", sa.Text),
        sa.Column("iteration", sa.Integer),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", JsonType, nullable=False),
        sa.Column("outputs", JsonType, nullable=False),
        sa.Column("body", JsonType, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_task_runs"),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.id"], ondelete="CASCADE",
                                name="fk_task_runs_execution_id_executions"),
    )
    op.create_index("ix_task_runs_execution_id_position", "task_runs", ["execution_id", "position"])


def _runtime_tables() -> None:
    op.create_table(
        "logs",
        sa.Column("id", AutoId, autoincrement=True),
        sa.Column("namespace", sa.String(150), nullable=False),
        sa.Column("flow_id", sa.String(100), nullable=False),
        _id("execution_id"),
        _id("task_run_id"),
        sa.Column("task_id", sa.String(100)),
        sa.Column("trigger_id", sa.String(100)),
        sa.Column("attempt", sa.Integer),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("timestamp", UtcDateTime, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_logs"),
    )
    op.create_index("ix_logs_execution_id_id", "logs", ["execution_id", "id"])
    op.create_index("ix_logs_namespace_flow_id_timestamp", "logs",
                    ["namespace", "flow_id", "timestamp"])
    op.create_table(
        "kv",
        sa.Column("namespace", sa.String(150)),
        sa.Column("key", sa.String(255)),
        sa.Column("value", JsonType),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("expiration", UtcDateTime),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("updated", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("namespace", "key", name="pk_kv"),
    )
    op.create_table(
        "timers",
        sa.Column("id", sa.String(255)),
        sa.Column("due_at", UtcDateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        _id("execution_id"),
        _id("task_run_id"),
        sa.Column("payload", JsonType, nullable=False),
        sa.Column("claimed_until", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_timers"),
    )
    op.create_index("ix_timers_due_at", "timers", ["due_at"])
    op.create_index("ix_timers_execution_id", "timers", ["execution_id"])
    op.create_table(
        "execution_queue",
        sa.Column("position", AutoId, autoincrement=True),
        sa.Column("namespace", sa.String(150), nullable=False),
        sa.Column("flow_id", sa.String(100), nullable=False),
        _id("execution_id", nullable=False),
        sa.Column("enqueued_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_execution_queue"),
        sa.UniqueConstraint("execution_id", name="uq_execution_queue_execution_id"),
    )
    op.create_index("ix_execution_queue_namespace_flow_id_position", "execution_queue",
                    ["namespace", "flow_id", "position"])


def _trigger_tables() -> None:
    op.create_table(
        "trigger_state",
        sa.Column("namespace", sa.String(150)),
        sa.Column("flow_id", sa.String(100)),
        sa.Column("trigger_id", sa.String(100)),
        sa.Column("next_date", UtcDateTime),
        sa.Column("last_date", UtcDateTime),
        _id("last_execution_id"),
        sa.Column("backfill", JsonType),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=FALSE),
        sa.Column("data", JsonType, nullable=False),
        sa.Column("updated", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("namespace", "flow_id", "trigger_id", name="pk_trigger_state"),
    )
    op.create_index("ix_trigger_state_next_date", "trigger_state", ["next_date"])
    op.create_table(
        "fired",
        sa.Column("namespace", sa.String(150)),
        sa.Column("flow_id", sa.String(100)),
        sa.Column("trigger_id", sa.String(100)),
        sa.Column("fire_time", UtcDateTime),
        _id("execution_id"),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("namespace", "flow_id", "trigger_id", "fire_time", name="pk_fired"),
    )


def downgrade() -> None:
    for table in ("fired", "trigger_state", "execution_queue", "timers", "kv",
                  "logs", "task_runs", "execution_labels", "executions", "flows"):
        op.drop_table(table)
