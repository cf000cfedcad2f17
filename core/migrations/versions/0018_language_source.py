"""Where each end user's language came from: chosen, their platform, or their text

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 18:30:00

A language the user chose with ``/language`` is never replaced by one their platform
reports or their messages suggest. Users stored before this revision have no source: a
language they already have is kept as if they had chosen it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("end_users") as batch:
        batch.add_column(sa.Column("language_source", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("end_users") as batch:
        batch.drop_column("language_source")
