"""WhatsApp: each contact's last message (the 24-hour window) and offered options, and
every message sent through a provider with its delivery status

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "whatsapp_contacts",
        sa.Column("id", Id, nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_whatsapp_contacts_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_contacts")),
        sa.UniqueConstraint("bot_id", "number", name=op.f("uq_whatsapp_contacts_bot_id_number")),
    )
    op.create_table(
        "outbound_messages",
        sa.Column("id", Id, nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_outbound_messages_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
        sa.UniqueConstraint("provider_id", name=op.f("uq_outbound_messages_provider_id")),
    )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbound_messages_bot_id_status", ["bot_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_messages_bot_id_status")
    op.drop_table("outbound_messages")
    op.drop_table("whatsapp_contacts")
