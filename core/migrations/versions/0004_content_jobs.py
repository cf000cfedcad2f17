"""content generation jobs; spoken audio and job id on library items; voice preferences

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 00:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("end_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("voice_preferences", sa.JSON(), server_default="{}", nullable=False)
        )
    op.create_table(
        "content_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("end_user_id", Id, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reservation", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_content_jobs_bot_id_bots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["end_user_id"],
            ["end_users.id"],
            name=op.f("fk_content_jobs_end_user_id_end_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_jobs")),
    )
    with op.batch_alter_table("content_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_jobs_status"), ["status"], unique=False)
    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audio", sa.JSON(), server_default="{}", nullable=False))
        batch_op.add_column(sa.Column("job_id", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_content_items_job_id"), ["job_id"])


def downgrade() -> None:
    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_content_items_job_id"), type_="unique")
        batch_op.drop_column("job_id")
        batch_op.drop_column("audio")
    with op.batch_alter_table("content_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_jobs_status"))
    op.drop_table("content_jobs")
    with op.batch_alter_table("end_users", schema=None) as batch_op:
        batch_op.drop_column("voice_preferences")
