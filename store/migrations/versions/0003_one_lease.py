"""One lease for jobs and watches: a watch runs only as a job whose `subject` is "watch:ID" (one unfinished job per
subject, never two running at once), so the watch's own lease (`watches.running_until`) goes.

This revision does not leave the previous release running: that release reads and writes
`watches.running_until`. Stop the replicas, run `scisynth db upgrade`, then start the new release.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(), nullable=True))
        batch_op.create_index(batch_op.f("ix_jobs_subject"), ["subject"], unique=False)
    op.execute("UPDATE jobs SET subject = 'watch:' || json_extract(payload_json, '$.watch_id') "
               "WHERE kind = 'watch' AND status IN ('queued', 'running')"
               if op.get_bind().dialect.name == "sqlite" else
               "UPDATE jobs SET subject = 'watch:' || (payload_json::json ->> 'watch_id') "
               "WHERE kind = 'watch' AND status IN ('queued', 'running')")
    with op.batch_alter_table("watches", schema=None) as batch_op:
        batch_op.drop_column("running_until")


def downgrade() -> None:  # for reference: SciSynth runs no downgrades (restore a backup instead)
    with op.batch_alter_table("watches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("running_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_subject"))
        batch_op.drop_column("subject")
