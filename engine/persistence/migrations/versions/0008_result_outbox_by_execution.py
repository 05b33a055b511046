"""An index on the result outbox by execution.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21

The executor applies the results that wait in the outbox for one execution together
(docs/executor.md, "Results applied together"): it reads them by ``execution_id``.
"""
from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_task_run_results_execution_id", "task_run_results", ["execution_id"])


def downgrade() -> None:
    op.drop_index("ix_task_run_results_execution_id", "task_run_results")
