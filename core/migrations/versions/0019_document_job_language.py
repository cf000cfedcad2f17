"""The language a document job tells its chat in

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 22:00:00

A document's progress and outcome reach the creator later, through the outbox, in the
language they wrote in when they sent it. Jobs stored before this revision have none
and are told in English.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("document_jobs") as batch:
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("document_jobs") as batch:
        batch.drop_column("language")
