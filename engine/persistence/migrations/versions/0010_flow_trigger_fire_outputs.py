"""A Flow trigger's decided fire, kept with its claim until its execution is started.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21

The claim of a state change and the start of the execution it fires are two transactions: a
crash between them used to lose the execution (the claim stops a second try). The claim now
keeps the outputs the execution starts with, so a second evaluation starts it (docs/flow-triggers.md).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.persistence.types import JsonType

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flow_trigger_events") as batch:
        batch.add_column(sa.Column("fire_outputs", JsonType))


def downgrade() -> None:
    with op.batch_alter_table("flow_trigger_events") as batch:
        batch.drop_column("fire_outputs")
