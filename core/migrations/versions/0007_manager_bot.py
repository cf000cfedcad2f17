"""the manager bot: updates not tied to a creator's bot, and each creator's chosen bot

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the manager bot's updates go through the same inbox, under a bot id of their own
    with op.batch_alter_table("inbound_updates", schema=None) as batch_op:
        batch_op.drop_constraint("fk_inbound_updates_bot_id_bots", type_="foreignkey")
    with op.batch_alter_table("creators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("current_bot_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("creators", schema=None) as batch_op:
        batch_op.drop_column("current_bot_id")
    op.execute("DELETE FROM inbound_updates WHERE bot_id NOT IN (SELECT id FROM bots)")
    with op.batch_alter_table("inbound_updates", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_inbound_updates_bot_id_bots", "bots", ["bot_id"], ["id"], ondelete="CASCADE"
        )
