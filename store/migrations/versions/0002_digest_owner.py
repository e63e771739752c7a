"""Digests remember their watch's owner: they are shown only to that key (and admins), and stay readable to it
after the watch is removed. Digests already stored take the owner of their watch (none: "", an admin's to read).
The previous release keeps running: the column has a database default.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(), server_default="", nullable=False))
        batch_op.create_index(batch_op.f("ix_digests_owner"), ["owner"], unique=False)
    op.execute("UPDATE digests SET owner = COALESCE((SELECT watches.owner FROM watches "
               "WHERE watches.id = digests.watch_id), '')")


def downgrade() -> None:  # for reference: SciSynth runs no downgrades (restore a backup instead)
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digests_owner"))
        batch_op.drop_column("owner")
