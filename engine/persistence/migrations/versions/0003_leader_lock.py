"""Leader locks: one row per singleton role (the beat), held by a process until it expires.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.persistence.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leader_lock",
        sa.Column("name", sa.String(64)),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("acquired", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leader_lock"),
    )


def downgrade() -> None:
    op.drop_table("leader_lock")
