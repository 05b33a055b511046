"""Pending commands: what an executor step asked of the outside, kept until it was done.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21

A subflow's creation, a ForEachItem's split and merge, and an execution's end as its parent and
Flow triggers see it are saved with the step that asks for them and dropped once their reply is
applied; beat runs again what is left (docs/reliability.md, "Pending commands").
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.persistence.types import JsonType, UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_commands",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", JsonType, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("replay_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pending_commands"),
    )
    op.create_index("ix_pending_commands_replay_at", "pending_commands", ["replay_at"])
    op.create_index("ix_pending_commands_execution_id", "pending_commands", ["execution_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_commands_execution_id", "pending_commands")
    op.drop_index("ix_pending_commands_replay_at", "pending_commands")
    op.drop_table("pending_commands")
