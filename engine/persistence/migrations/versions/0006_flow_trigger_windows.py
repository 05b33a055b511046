"""Flow trigger windows (multi-flow conditions met so far) and the events each trigger handled.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

See docs/flow-triggers.md: ``trigger_windows`` holds one row per (namespace, flow, trigger,
condition id, window start); ``flow_trigger_events`` makes a redelivered end event start at
most one execution per trigger.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.persistence.types import JsonType, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trigger_windows",
        sa.Column("namespace", sa.String(150), nullable=False),
        sa.Column("flow_id", sa.String(100), nullable=False),
        sa.Column("trigger_id", sa.String(100), nullable=False),
        sa.Column("condition_id", sa.String(100), nullable=False),
        sa.Column("window_start", UtcDateTime, nullable=False),
        sa.Column("window_end", UtcDateTime, nullable=False),
        sa.Column("met", JsonType, nullable=False),
        sa.Column("outputs", JsonType, nullable=False),
        sa.Column("updated", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("namespace", "flow_id", "trigger_id", "condition_id", "window_start",
                                name="pk_trigger_windows"),
    )
    op.create_index("ix_trigger_windows_window_end", "trigger_windows", ["window_end"])
    op.create_table(
        "flow_trigger_events",
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("state_index", sa.Integer, nullable=False),
        sa.Column("namespace", sa.String(150), nullable=False),
        sa.Column("flow_id", sa.String(100), nullable=False),
        sa.Column("trigger_id", sa.String(100), nullable=False),
        sa.Column("fired_execution_id", sa.String(64)),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "state_index", "namespace", "flow_id", "trigger_id",
                                name="pk_flow_trigger_events"),
    )
    op.create_index("ix_flow_trigger_events_created", "flow_trigger_events", ["created"])


def downgrade() -> None:
    op.drop_index("ix_flow_trigger_events_created", "flow_trigger_events")
    op.drop_table("flow_trigger_events")
    op.drop_index("ix_trigger_windows_window_end", "trigger_windows")
    op.drop_table("trigger_windows")
