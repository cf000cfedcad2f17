"""Inbound updates name their chat, so any process can process one chat's pending
updates in arrival order

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_updates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("chat", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.create_index(
            "ix_inbound_updates_chat", ["bot_id", "channel", "chat", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_updates_chat")
        batch_op.drop_column("chat")
