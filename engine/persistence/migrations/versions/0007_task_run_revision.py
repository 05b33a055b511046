"""A revision number on each task run row, raised by every write of its content.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21

The executor loads an execution with its task runs on every event. With ``revision`` it reads
``(id, revision)`` of each row and parses again only the rows whose content changed since it
last read them (docs/persistence.md, "Loading an execution"). The lease columns a worker updates directly do not
raise it: they are read on every load anyway.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("revision", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("revision")
