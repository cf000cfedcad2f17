"""channel accounts (Telegram bots, WhatsApp numbers) and the durable inbound updates

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 01:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "channel_accounts",
        sa.Column("id", Id, nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("secret", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_channel_accounts_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_accounts")),
        sa.UniqueConstraint("bot_id", "channel", name=op.f("uq_channel_accounts_bot_id_channel")),
    )
    op.create_table(
        "inbound_updates",
        sa.Column("id", Id, nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("update_id", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_inbound_updates_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_updates")),
        sa.UniqueConstraint(
            "bot_id",
            "channel",
            "update_id",
            name=op.f("uq_inbound_updates_bot_id_channel_update_id"),
        ),
    )
    with op.batch_alter_table("inbound_updates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_updates_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbound_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_updates_status"))
    op.drop_table("inbound_updates")
    op.drop_table("channel_accounts")
