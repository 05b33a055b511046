"""Join counters: the task after a fan-out starts on the worker that ends the fan-out.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22

A row per join the executor planned: how many children of the fan-out still have to end SUCCESS
(NULL once one did not). The chunk whose results bring it to zero claims the join in the same
transaction and runs it (docs/celery.md, "Joins").
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_run_joins",
        sa.Column("task_run_id", sa.String(64), nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.id"], ondelete="CASCADE",
                                name="fk_task_run_joins_execution_id_executions"),
        sa.PrimaryKeyConstraint("task_run_id", name="pk_task_run_joins"),
    )
    op.create_index("ix_task_run_joins_execution_id", "task_run_joins", ["execution_id"])


def downgrade() -> None:
    op.drop_index("ix_task_run_joins_execution_id", "task_run_joins")
    op.drop_table("task_run_joins")
