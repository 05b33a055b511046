"""The metrics task runs report (script tasks' ``::{"metrics": [...]}::`` lines, ``ctx.metric``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08

One row per metric, as Kestra's MetricEntry (namespace, flow, execution, task run, name, type,
value, tags, timestamp); ``podium execution show`` lists them with the task run.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.persistence.types import JsonType, UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "task_run_metrics",
        sa.Column("id", AutoId, autoincrement=True),
        sa.Column("namespace", sa.String(150), nullable=False),
        sa.Column("flow_id", sa.String(100), nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("task_run_id", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(100), nullable=False),
        sa.Column("attempt", sa.Integer),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("tags", JsonType, nullable=False),
        sa.Column("timestamp", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_task_run_metrics"),
    )
    op.create_index("ix_task_run_metrics_execution_id_id", "task_run_metrics", ["execution_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_task_run_metrics_execution_id_id", "task_run_metrics")
    op.drop_table("task_run_metrics")
