"""the web widget's conversation log: numbered frames replayed after a reconnect

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "widget_frames",
        sa.Column("id", Id, nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("frame", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_widget_frames_bot_id_bots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_widget_frames")),
        sa.UniqueConstraint(
            "bot_id", "visitor_id", "seq", name=op.f("uq_widget_frames_bot_id_visitor_id_seq")
        ),
    )
    with op.batch_alter_table("widget_frames", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_widget_frames_bot_id_visitor_id_ref"),
            ["bot_id", "visitor_id", "ref"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("widget_frames", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_widget_frames_bot_id_visitor_id_ref"))
    op.drop_table("widget_frames")
