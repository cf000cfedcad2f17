"""What the REST API reads: a document job's progress, and indexes for listing a bot's
conversations, content and document jobs

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_document_jobs_bot_id_created_at", "document_jobs", ["bot_id", "created_at"]),
    ("ix_conversations_bot_id_updated_at_id", "conversations", ["bot_id", "updated_at", "id"]),
    ("ix_content_items_bot_id_id", "content_items", ["bot_id", "id"]),
)


def upgrade() -> None:
    with op.batch_alter_table("document_jobs") as batch:
        batch.add_column(sa.Column("progress", sa.Text(), nullable=True))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("document_jobs") as batch:
        batch.drop_column("progress")
