"""Papers record their journal or venue (read from a PDF's first page and metadata, or given by an import) and
which PDF reader read them (the font reader, or the layout model when the font reader's parse looked wrong), with
the reason.

Additive: the previous release ignores the new columns, so replicas may be upgraded one at a time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("venue", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("reader", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("reader_note", sa.String(), nullable=True))


def downgrade() -> None:  # for reference: SciSynth runs no downgrades (restore a backup instead)
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_column("reader_note")
        batch_op.drop_column("reader")
        batch_op.drop_column("venue")
