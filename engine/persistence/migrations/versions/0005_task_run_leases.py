"""Task run leases (attempt, worker, lease deadline) and the worker's result outbox.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

See docs/reliability.md: workers claim and renew the lease of the attempt they run; beat
re-dispatches an attempt whose lease expired and re-sends results still in the outbox.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.persistence.types import JsonType, UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("worker_id", sa.String(255)))
        batch.add_column(sa.Column("lease_until", UtcDateTime))
        batch.create_index("ix_task_runs_lease_until", ["lease_until"])
    op.create_table(
        "task_run_results",
        sa.Column("task_run_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("event", JsonType, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("replay_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("task_run_id", "attempt", name="pk_task_run_results"),
    )
    op.create_index("ix_task_run_results_replay_at", "task_run_results", ["replay_at"])


def downgrade() -> None:
    op.drop_index("ix_task_run_results_replay_at", table_name="task_run_results")
    op.drop_table("task_run_results")
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_index("ix_task_runs_lease_until")
        batch.drop_column("lease_until")
        batch.drop_column("worker_id")
        batch.drop_column("attempt")
