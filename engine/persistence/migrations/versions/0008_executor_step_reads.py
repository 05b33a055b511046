"""What an executor step reads: the result outbox by execution, and a version on executions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21

The executor applies the results waiting in the outbox for one execution together
(docs/executor.md, "Results applied together"): it reads them by ``execution_id``. And it reuses
the execution it saved last while ``executions.version``, raised by every write of the execution
or its task runs, still says so (docs/persistence.md, "Executor steps").
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_task_run_results_execution_id", "task_run_results", ["execution_id"])
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("version")
    op.drop_index("ix_task_run_results_execution_id", "task_run_results")
