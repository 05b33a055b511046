"""Per-process metric aggregates (executor decisions, task run phases) read by the web's /metrics.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.persistence.types import JsonType, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("source", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("labels", sa.String(255), primary_key=True),
        sa.Column("buckets", JsonType, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("sum", sa.Float, nullable=False),
        sa.Column("updated", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("source", "name", "labels", name="pk_metric_rollups"),
    )
    op.create_index("ix_metric_rollups_updated", "metric_rollups", ["updated"])


def downgrade() -> None:
    op.drop_index("ix_metric_rollups_updated", "metric_rollups")
    op.drop_table("metric_rollups")
