"""Which embedding model made each chunk's vector (none yet: computed in the background)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 12:10:00

Chunks stored before this revision have no model recorded; the vector job of their bot
adopts the vectors already in the bot's collection when that collection was made by the
configured model, and leaves the others for ``chorus reindex``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("embedder", sa.String(length=100), nullable=True))
    op.create_index("ix_chunks_bot_id_embedder", "chunks", ["bot_id", "embedder"])


def downgrade() -> None:
    op.drop_index("ix_chunks_bot_id_embedder", table_name="chunks")
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("embedder")
