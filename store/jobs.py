"""Background jobs (uploads, arXiv fetches, imports, watches) as rows in the database, so a job accepted with 202
survives a crash. Every replica's worker thread claims the oldest job it may run (queued, or running under a lease
that expired: the replica running it died), renews the lease while it works, and records the outcome. Ingest is
idempotent: what a dead worker had already added comes back "unchanged". An upload's file is on the accepting
replica's disk unless the replicas share one papers folder (SCISYNTH_PAPERS), so without one that replica alone
may run it (again after a restart). A job that stopped its worker MAX_ATTEMPTS times fails instead of looping.

A job's status is visible to the key that created it (and to admins). Failures show the client a plain
reason and the job id; the traceback goes to the server log under that id, never to another caller.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from sqlalchemy import ColumnElement, Engine, exists, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Field, Session, SQLModel, col, select

from store.schema import ensure_schema

log = logging.getLogger(__name__)
JobKind = Literal["upload", "arxiv", "import", "watch", "zotero", "table"]
UNFINISHED = ("queued", "running")
MAX_ATTEMPTS = 3
CLAIM_WINDOW = 50  # oldest claimable jobs among which the next is chosen (fairly between keys)
DRAIN_RETRIES = 5  # failures in a row after which a worker asked to finish the queue stops (the database is gone)


def _now() -> datetime:
    return datetime.now(UTC)


class JobRow(SQLModel, table=True):
    __tablename__ = "jobs"

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)
    kind: str
    owner: str = Field(default="", index=True)
    status: str = Field(default="queued", index=True)  # queued, running, done, failed
    # upload: {"path", "bytes", "filename"}; arxiv: {"arxiv_id"}; import: {"path", "filename"}; watch: {"watch_id"};
    # zotero: {"library", "collection"}; table: {"papers", "columns", "preset"}
    payload_json: str = "{}"
    results_json: str = "[]"
    error: str | None = None
    attempts: int = 0
    # The replica that alone may run the job (an upload whose file is on its disk), or None: any replica.
    worker: str | None = Field(default=None, index=True)
    # What the job works on when two jobs must never run at once ("watch:ID"): one unfinished job per subject.
    subject: str | None = Field(default=None, index=True)
    claimed_by: str | None = None  # the replica running it, while its lease lasts
    lease_until: datetime | None = None
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)

    @property
    def payload(self) -> dict:
        return json.loads(self.payload_json)

    def public(self) -> dict:
        return {"id": self.id, "kind": self.kind, "status": self.status, "results": json.loads(self.results_json),
                "error": self.error, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


class JobResult(Protocol):
    """What a job's work returns, one per item it handled (retrieval.ingest.IngestResult is one)."""

    status: str
    error: str | None

    def public(self) -> dict: ...


Work = Callable[[JobRow], Sequence[JobResult]]


def replica_name(home: Path) -> str:
    """This replica's name: its host and home folder (where its uploads wait), the same after a restart."""
    return f"{socket.gethostname()}:{home.resolve()}"


class JobQueue:
    """A worker thread per replica that runs claimed jobs one at a time (ingest is CPU-bound; turns keep the other
    core). Nothing runs until `start`."""

    def __init__(self, engine: Engine, work: dict[str, Work], on_result: Callable[[JobResult], None] | None = None,
                 worker: str = "", local_kinds: frozenset[str] = frozenset(), lease_seconds: float = 60.0,
                 poll_seconds: float = 2.0) -> None:
        """`worker` names this replica (see replica_name); jobs of `local_kinds` (uploads, when the papers folder
        is this replica's own) are pinned to it. A lease not renewed for `lease_seconds` frees the job for any
        replica; other replicas' jobs are looked for every `poll_seconds`."""
        self.engine = engine
        self.work = work
        self.worker = worker
        self.local_kinds = local_kinds
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.on_result = on_result
        ensure_schema(engine)
        self._served: dict[str, float] = {}  # owner -> when this worker last took one of its jobs
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._drain = False
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Start the worker thread (once). Jobs this replica was running when its last process died run again
        now, not when their lease expires; returns how many jobs it may run are waiting."""
        started = self._thread is not None
        if not started:
            with Session(self.engine) as session:
                mine = update(JobRow).where(col(JobRow.status) == "running", col(JobRow.claimed_by) == self.worker)
                session.exec(mine.values(status="queued", lease_until=None))
                session.commit()
        waiting = self._waiting()
        if waiting:
            log.info("%d unfinished jobs waiting", waiting)
        if not started:
            self._thread = threading.Thread(target=self._loop, name="scisynth-job", daemon=True)
            self._thread.start()
        self._wake.set()
        return waiting

    def submit(self, kind: JobKind, payload: dict, owner: str, subject: str | None = None) -> JobRow:
        """Queue a job. With a `subject` that an unfinished job already has, that job is returned instead: a watch
        asked to run while its run waits or runs is one run."""
        with Session(self.engine, expire_on_commit=False) as session:
            if subject is not None and (waiting := session.exec(select(JobRow).where(
                    col(JobRow.subject) == subject, col(JobRow.status).in_(UNFINISHED))).first()) is not None:
                return waiting
            row = JobRow(kind=kind, owner=owner, payload_json=json.dumps(payload), subject=subject,
                         worker=self.worker if kind in self.local_kinds else None)
            session.add(row)
            session.commit()
        self._wake.set()
        return row

    def get(self, job_id: str) -> JobRow | None:
        with Session(self.engine) as session:
            return session.get(JobRow, job_id)

    def pending_upload_bytes(self, owner: str) -> int:
        """Bytes of this owner's uploads that are accepted but not yet ingested (they count toward the quota)."""
        with Session(self.engine) as session:
            rows = session.exec(select(col(JobRow.payload_json)).where(
                col(JobRow.owner) == owner, col(JobRow.kind) == "upload", col(JobRow.status).in_(UNFINISHED)))
            return sum(int(json.loads(p).get("bytes", 0)) for p in rows)

    def unfinished(self, owner: str | None = None) -> int:
        """Jobs queued or running (of one owner, when given)."""
        query = select(func.count()).select_from(JobRow).where(col(JobRow.status).in_(UNFINISHED))
        if owner is not None:
            query = query.where(col(JobRow.owner) == owner)
        with Session(self.engine) as session:
            return int(session.exec(query).one())

    def depth(self) -> dict[str, int]:
        """Unfinished jobs of every replica by status (queued, running): the queue a dashboard watches."""
        query = (select(col(JobRow.status), func.count()).where(col(JobRow.status).in_(UNFINISHED))
                 .group_by(col(JobRow.status)))
        with Session(self.engine) as session:
            counted = dict(session.exec(query).all())
        return {status: int(counted.get(status, 0)) for status in UNFINISHED}

    def _waiting(self) -> int:
        """How many jobs this replica may take now."""
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(JobRow).where(self._claimable())).one())

    def _claimable(self) -> ColumnElement[bool]:
        """Jobs this replica may take: queued, or running under an expired lease; not pinned to another replica;
        and no other job of the same subject running under a live lease (the job's lease is the only lease: a
        watch is held by its run's job)."""
        now = _now()
        lease = col(JobRow.lease_until)
        expired = (col(JobRow.status) == "running") & or_(lease.is_(None), lease < now)
        other = aliased(JobRow)
        busy_subject = exists().where(col(other.subject) == col(JobRow.subject), col(other.id) != col(JobRow.id),
                                      col(other.status) == "running", col(other.lease_until) >= now)
        worker = col(JobRow.worker)
        return (((col(JobRow.status) == "queued") | expired) & or_(worker.is_(None), worker == self.worker)
                & (col(JobRow.subject).is_(None) | ~busy_subject))

    def _claim(self) -> JobRow | None:
        """A job this replica may run, taken under a lease: the oldest job of the key this worker served least
        recently, so one key's queue (each key may have max_pending_jobs waiting) never holds the worker for the
        others."""
        with Session(self.engine, expire_on_commit=False) as session:
            candidates = list(session.exec(select(JobRow).where(self._claimable()).order_by(col(JobRow.created_at))
                                           .limit(CLAIM_WINDOW)))
            candidates.sort(key=lambda row: self._served.get(row.owner, 0.0))  # stable: oldest first per key
            for row in candidates:
                if row.attempts >= MAX_ATTEMPTS:  # it stopped its worker each time: never again
                    self._finish(row.id, "failed", error=f"the job stopped its worker {row.attempts} times; quote "
                                                         f"job {row.id} to the operator")
                    continue
                if self._take(session, row):
                    self._served[row.owner] = time.monotonic()
                    return row
        return None

    def _take(self, session: Session, row: JobRow) -> bool:
        """Claim `row` under a lease. The conditional UPDATE is the claim: of replicas racing for one row, one
        updates it and the others find it no longer claimable. On success `row` is the claimed row, detached."""
        claimed = session.exec(update(JobRow).where(col(JobRow.id) == row.id, self._claimable()).values(
            status="running", claimed_by=self.worker, lease_until=_now() + self.lease, attempts=row.attempts + 1,
            updated_at=_now()))
        session.commit()
        if claimed.rowcount != 1:
            return False
        session.refresh(row)  # the claimed row as stored (attempts: this run's number)
        session.expunge(row)
        return True

    def run_now(self, job_id: str) -> JobRow | None:
        """Claim this job and run it in this thread (the CLI's `watch run`); None when it cannot be claimed (another
        process runs it, or it is done). Returns the job as it ended."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.exec(select(JobRow).where(col(JobRow.id) == job_id, self._claimable())).first()
            if row is None or not self._take(session, row):
                return None
        self.run(row)
        return self.get(job_id)

    def record_progress(self, row: JobRow, results: Sequence[JobResult]) -> None:
        """The results a running job has so far, readable by its key before it ends (an evidence table's rows);
        written only while this replica's claim holds."""
        with Session(self.engine) as session:
            session.exec(update(JobRow).where(col(JobRow.id) == row.id, col(JobRow.claimed_by) == row.claimed_by,
                                              col(JobRow.attempts) == row.attempts, col(JobRow.status) == "running")
                         .values(results_json=json.dumps([r.public() for r in results]), updated_at=_now()))
            session.commit()

    def _finish(self, job_id: str, status: str, held: JobRow | None = None, **fields: object) -> None:
        """Record a job's outcome; with `held` (the claim this replica ran it under) only while the claim is still
        its own: a replica whose lease was lost (another took the job over) does not overwrite the new run."""
        fence = [col(JobRow.claimed_by) == held.claimed_by, col(JobRow.attempts) == held.attempts] if held else []
        with Session(self.engine) as session:
            written = session.exec(update(JobRow).where(col(JobRow.id) == job_id, *fence).values(
                status=status, lease_until=None, updated_at=_now(), **fields))
            session.commit()
        if not written.rowcount:
            log.warning("job %s: its lease was lost to another replica; this run's outcome is not recorded", job_id)

    def _renew(self, row: JobRow, done: threading.Event) -> None:
        """Extend the lease while the job runs, so no other replica takes it over (a failed renewal is retried
        at the next one; the lease lasts three of them)."""
        while not done.wait(self.lease.total_seconds() / 3):
            try:
                with Session(self.engine) as session:
                    held = update(JobRow).where(col(JobRow.id) == row.id, col(JobRow.claimed_by) == row.claimed_by,
                                                col(JobRow.attempts) == row.attempts)
                    session.exec(held.values(lease_until=_now() + self.lease))
                    session.commit()
            except Exception:
                log.exception("job %s: could not renew its lease", row.id)

    def _loop(self) -> None:
        failures = 0  # in a row: a draining worker gives up after DRAIN_RETRIES, a serving one goes on
        while not self._stopping.is_set():
            try:
                row = self._claim()
                if row is not None:
                    self.run(row)
                failures = 0
            except Exception:  # the database is away or locked for a moment: the job's lease expires, it runs again
                failures += 1
                log.exception("the job worker failed (%d in a row); it tries again", failures)
                if self._drain and failures >= DRAIN_RETRIES:
                    log.error("the job worker stops draining after %d failures; unfinished jobs stay queued for "
                              "the next start", failures)
                    return
                self._stopping.wait(self.poll_seconds)
                continue
            if row is None and self._drain and not self._waiting():  # not merely a race lost to another replica
                return
            if row is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def run(self, row: JobRow) -> None:
        """Run one claimed job and record its outcome."""
        done = threading.Event()
        threading.Thread(target=self._renew, args=(row, done), daemon=True).start()
        try:
            results = self.work[row.kind](row)
        except Exception:
            log.exception("job %s (%s) failed", row.id, row.kind)
            self._finish(row.id, "failed", row, error=f"the job failed on the server; quote job {row.id} to the "
                                                      "operator, who will find the details in the log")
            return
        finally:
            done.set()
        for result in results:
            if self.on_result:
                self.on_result(result)
        failed = bool(results) and all(r.status == "failed" for r in results)
        self._finish(row.id, "failed" if failed else "done", row,
                     results_json=json.dumps([r.public() for r in results]), error=results[0].error if failed else None)

    def shutdown(self, finish_queued: bool = False) -> None:
        """Stop taking work; a job cut short keeps its lease and runs again when it expires (or at this replica's
        next start). `finish_queued` first runs every job this replica may take, and returns when they are done
        (in this thread when the worker was never started)."""
        self._drain = finish_queued
        if not finish_queued:
            self._stopping.set()
        self._wake.set()
        if finish_queued and self._thread is None:
            self._loop()
        elif finish_queued and self._thread is not None:
            self._thread.join()
