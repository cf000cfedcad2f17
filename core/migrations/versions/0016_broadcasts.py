"""Broadcasts and schedules, users' time zones and opt-outs, and one-time link codes

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24 12:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _bot(table: str) -> sa.Column[str]:
    return sa.Column(
        "bot_id",
        sa.String(length=64),
        sa.ForeignKey("bots.id", name=f"fk_{table}_bot_id_bots", ondelete="CASCADE"),
        nullable=False,
    )


def _end_user(table: str) -> sa.Column[int]:
    return sa.Column(
        "end_user_id",
        Id,
        sa.ForeignKey("end_users.id", name=f"fk_{table}_end_user_id_end_users", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    with op.batch_alter_table("end_users") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "schedules",
        sa.Column("id", Id, nullable=False),
        _bot("schedules"),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("local_time", sa.String(length=5), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_index(op.f("ix_schedules_bot_id"), "schedules", ["bot_id"])
    op.create_table(
        "broadcasts",
        sa.Column("id", Id, nullable=False),
        _bot("broadcasts"),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column(
            "schedule_id",
            Id,
            sa.ForeignKey(
                "schedules.id", name="fk_broadcasts_schedule_id_schedules", ondelete="SET NULL"
            ),
            nullable=True,
        ),
        sa.Column("occurrence", sa.String(length=80), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notify", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
        sa.UniqueConstraint(
            "schedule_id", "occurrence", name=op.f("uq_broadcasts_schedule_id_occurrence")
        ),
    )
    op.create_index("ix_broadcasts_bot_id_id", "broadcasts", ["bot_id", "id"])
    op.create_table(
        "broadcast_recipients",
        sa.Column("id", Id, nullable=False),
        sa.Column(
            "broadcast_id",
            Id,
            sa.ForeignKey(
                "broadcasts.id",
                name="fk_broadcast_recipients_broadcast_id_broadcasts",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        _end_user("broadcast_recipients"),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_recipients")),
        sa.UniqueConstraint(
            "broadcast_id",
            "end_user_id",
            name=op.f("uq_broadcast_recipients_broadcast_id_end_user_id"),
        ),
    )
    op.create_index(
        "ix_broadcast_recipients_broadcast_id_status",
        "broadcast_recipients",
        ["broadcast_id", "status"],
    )
    op.create_index(
        op.f("ix_broadcast_recipients_end_user_id"), "broadcast_recipients", ["end_user_id"]
    )
    op.create_table(
        "link_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        _bot("link_codes"),
        _end_user("link_codes"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_link_codes")),
    )
    op.create_index(op.f("ix_link_codes_end_user_id"), "link_codes", ["end_user_id"])


def downgrade() -> None:
    op.drop_table("link_codes")
    op.drop_table("broadcast_recipients")
    op.drop_table("broadcasts")
    op.drop_table("schedules")
    with op.batch_alter_table("end_users") as batch:
        batch.drop_column("opted_out_at")
        batch.drop_column("timezone")

