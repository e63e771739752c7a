"""Background ingest jobs (uploads, arXiv fetches) as rows in the database, so a job accepted with 202
survives a restart: at start-up every job still queued or running is run again (ingest is idempotent:
what was already added comes back "unchanged").

A job's status is visible to the key that created it (and to admins). Failures show the client a plain
reason and the job id; the traceback goes to the server log under that id, never to another caller.
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, func
from sqlmodel import Field, Session, SQLModel, select

from retrieval.ingest import IngestResult
from retrieval.tables import create_tables

log = logging.getLogger(__name__)
JobKind = Literal["upload", "arxiv", "import", "watch", "zotero"]
UNFINISHED = ("queued", "running")


def _now() -> datetime:
    return datetime.now(UTC)


class JobRow(SQLModel, table=True):
    __tablename__ = "jobs"

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)
    kind: str
    owner: str = Field(default="", index=True)
    status: str = Field(default="queued", index=True)  # queued, running, done, failed
    # upload: {"path", "bytes", "filename"}; arxiv: {"arxiv_id"}; import: {"path", "filename"}; watch: {"watch_id"};
    # zotero: {"library", "collection"}
    payload_json: str = "{}"
    results_json: str = "[]"
    error: str | None = None
    attempts: int = 0
    # The replica that accepted the job: an upload's file is on its disk, so it alone runs the job again after a
    # restart (None: accepted before replicas were told apart; any replica may take it).
    worker: str | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)

    @property
    def payload(self) -> dict:
        return json.loads(self.payload_json)

    def public(self) -> dict:
        return {"id": self.id, "kind": self.kind, "status": self.status, "results": json.loads(self.results_json),
                "error": self.error, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


Work = Callable[[JobRow], list[IngestResult]]


def replica_name(home: Path) -> str:
    """This replica's name: its host and home folder (where its uploads wait), the same after a restart."""
    return f"{socket.gethostname()}:{home.resolve()}"


class JobQueue:
    """Runs jobs one at a time in a worker thread (ingest is CPU-bound; turns keep the other core)."""

    def __init__(self, engine: Engine, work: dict[str, Work], on_result: Callable[[IngestResult], None] | None = None,
                 worker: str = "") -> None:
        """`worker` names this replica (see replica_name); replicas sharing a database never run each other's
        jobs."""
        self.engine = engine
        self.work = work
        self.worker = worker
        self.on_result = on_result
        create_tables(engine, [JobRow.__table__])
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scisynth-job")

    def submit(self, kind: JobKind, payload: dict, owner: str) -> JobRow:
        with Session(self.engine, expire_on_commit=False) as session:
            row = JobRow(kind=kind, owner=owner, payload_json=json.dumps(payload), worker=self.worker)
            session.add(row)
            session.commit()
        self._pool.submit(self.run, row.id)
        return row

    def resume(self) -> int:
        """Queue again every job this replica (in an earlier process) accepted but did not finish; returns how
        many. Another replica's unfinished jobs are its own: it may still be running them."""
        mine = (JobRow.worker == self.worker) | (JobRow.worker.is_(None))  # type: ignore[union-attr]
        with Session(self.engine) as session:
            ids = list(session.exec(select(JobRow.id).where(JobRow.status.in_(UNFINISHED), mine)
                                    .order_by(JobRow.created_at)))
        for job_id in ids:
            self._pool.submit(self.run, job_id)
        if ids:
            log.info("resuming %d unfinished jobs", len(ids))
        return len(ids)

    def get(self, job_id: str) -> JobRow | None:
        with Session(self.engine) as session:
            return session.get(JobRow, job_id)

    def pending_upload_bytes(self, owner: str) -> int:
        """Bytes of this owner's uploads that are accepted but not yet ingested (they count toward the quota)."""
        with Session(self.engine) as session:
            rows = session.exec(select(JobRow.payload_json).where(
                JobRow.owner == owner, JobRow.kind == "upload", JobRow.status.in_(UNFINISHED)))
            return sum(int(json.loads(p).get("bytes", 0)) for p in rows)

    def unfinished(self, owner: str | None = None) -> int:
        """Jobs queued or running (of one owner, when given)."""
        query = select(func.count()).select_from(JobRow).where(JobRow.status.in_(UNFINISHED))
        if owner is not None:
            query = query.where(JobRow.owner == owner)
        with Session(self.engine) as session:
            return int(session.exec(query).one())

    def _update(self, job_id: str, **fields: object) -> None:
        with Session(self.engine) as session:
            row = session.get(JobRow, job_id)
            if row is None:
                return
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = _now()
            session.add(row)
            session.commit()

    def run(self, job_id: str) -> None:
        row = self.get(job_id)
        if row is None or row.status not in UNFINISHED:
            return
        self._update(job_id, status="running", attempts=row.attempts + 1)
        try:
            results = self.work[row.kind](row)
        except Exception:
            log.exception("job %s (%s) failed", job_id, row.kind)
            self._update(job_id, status="failed", error=f"the job failed on the server; quote job {job_id} to "
                                                        "the operator, who will find the details in the log")
            return
        for result in results:
            if self.on_result:
                self.on_result(result)
        failed = bool(results) and all(r.status == "failed" for r in results)
        self._update(job_id, status="failed" if failed else "done",
                     results_json=json.dumps([r.public() for r in results]),
                     error=results[0].error if failed else None)

    def shutdown(self, finish_queued: bool = False) -> None:
        """Stop taking work; a job cut short stays 'running' and runs again at the next start. `finish_queued`
        runs the jobs already queued first, and returns when they are done."""
        self._pool.shutdown(wait=finish_queued, cancel_futures=not finish_queued)
