"""KV entries get a description (Kestra 0.22's ``kv.Set`` ``kvDescription``).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table rebuilds the table on SQLite, which cannot alter columns in place.
    with op.batch_alter_table("kv") as batch:
        batch.add_column(sa.Column("description", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("kv") as batch:
        batch.drop_column("description")
