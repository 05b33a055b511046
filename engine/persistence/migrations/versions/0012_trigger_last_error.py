"""The last error of a trigger that could not start an execution, and when it happened.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

A Schedule or Flow trigger whose inputs, labels or conditions fail to render, or whose flow
refuses the execution, starts nothing; ``podium triggers list`` shows these two columns so the
failure is seen where triggers are looked at (docs/flow-triggers.md, "When a trigger fails").
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.persistence.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trigger_state") as batch:
        batch.add_column(sa.Column("last_error", sa.Text()))
        batch.add_column(sa.Column("last_error_date", UtcDateTime))


def downgrade() -> None:
    with op.batch_alter_table("trigger_state") as batch:
        batch.drop_column("last_error_date")
        batch.drop_column("last_error")
