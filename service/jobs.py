"""What each kind of background job does (store/jobs.py queues, leases and records them): an upload, an arXiv
fetch, a BibTeX/RIS import, a Zotero sync, a watch run, an evidence table. Each runs as the key that asked for it,
and tells the key what happened to each item in words it can act on (its own file names, never the server's
paths).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.evidence_tables import Row
from agent.runtime import Runtime
from retrieval.ingest import IngestResult
from service.errors import QueueFullError, QuotaExceededError, TooManyJobsError
from service.library import LibraryService
from service.tables import LeftOut, RowResult, TableService
from service.watches import WatchService
from store.jobs import JobQueue, JobResult, JobRow, replica_name
from tools.arxiv_client import ArxivError
from tools.bibliography import BibliographyError
from tools.zotero import ZoteroError


@dataclass
class JobWork:
    """`progress` records a running job's results so far (JobQueue.record_progress)."""

    library: LibraryService
    watches: WatchService
    tables: TableService
    progress: Callable[[JobRow, Sequence[JobResult]], None]

    def upload(self, job: JobRow) -> list[IngestResult]:
        """Ingest an uploaded file (read in a bounded child process). It stays on disk only while a paper points
        to it (a duplicate, an unreadable file or a failure leaves nothing behind; a re-run after a crash keeps the
        file its paper uses)."""
        path, name = Path(job.payload["path"]), job.payload.get("filename", "upload.pdf")
        try:
            results = self.library.ingest([path], owner=job.owner or None, untrusted=True)
        finally:
            if self.library.runtime.catalog.paper_at(path) is None:
                path.unlink(missing_ok=True)
        for result in results:  # the client sees its own file name, never the server's path
            result.path = name
            result.error = result.error and result.error.replace(str(path.resolve()), name).replace(str(path), name)
        return results

    def arxiv(self, job: JobRow) -> list[IngestResult]:
        try:
            return self.library.fetch([job.payload["arxiv_id"]], owner=job.owner or None)
        except ArxivError as error:  # arXiv down or refusing: the reason is the user's to read
            return [IngestResult(job.payload["arxiv_id"], "failed", error=str(error))]

    def import_bibliography(self, job: JobRow) -> list[IngestResult]:
        """Import an uploaded BibTeX/RIS file; entries that could not be read come back as "skipped" with their
        line. The file is removed afterwards (a re-run after a crash imports what is still missing)."""
        path, name = Path(job.payload["path"]), job.payload.get("filename", "import")
        try:
            report = self.library.import_bibliography(path, owner=job.owner or None, read_local_files=False)
        except BibliographyError as error:
            return [IngestResult(name, "failed", error=str(error).replace(str(path), name))]
        finally:
            path.unlink(missing_ok=True)
        if not report.results:
            reasons = "; ".join(f"line {bad.line}: {bad.reason}" for bad in report.skipped[:5])
            return [IngestResult(name, "failed", error=f"no entry of {name} could be read ({reasons})")]
        for result in report.results:
            result.path = result.path.replace(str(path), name)
        return report.results + [IngestResult(f"{name}:{bad.line}", "skipped", error=bad.reason)
                                 for bad in report.skipped]

    def zotero(self, job: JobRow) -> list[IngestResult]:
        """Items skipped (no title) and papers removed (deleted in Zotero) are listed beside the ingests."""
        library = job.payload["library"]
        try:
            report = self.library.sync_zotero(library, job.payload.get("collection"), owner=job.owner or None)
        except ZoteroError as error:
            return [IngestResult(library, "failed", error=str(error))]
        return (report.results + [IngestResult(f"zotero:{key}", "skipped", error=why) for key, why in report.skipped]
                + [IngestResult(library, "removed", paper_id) for paper_id in report.removed])

    def watch(self, job: JobRow) -> list[IngestResult]:
        """Papers come in as the watch's owner's: its PDFs count toward that key's storage quota, and past the
        quota the new papers come in from their abstracts."""
        watch = self.watches.store.get(job.payload["watch_id"])
        settings = self.library.runtime.settings
        room = watch is None or (self.library.runtime.catalog.bytes_added_by(watch.owner)
                                 < settings.jobs.upload_quota_mb * 1024 * 1024)
        return self.watches.runner.run(job.payload["watch_id"], pdfs_allowed=room).results

    def evidence_table(self, job: JobRow) -> list[RowResult | LeftOut]:
        """Build the table; each row is readable by the key (GET /v1/jobs/ID) as soon as it is done. A paper deleted
        since the job was queued is listed as skipped; with none left, the job fails saying so."""
        payload = job.payload
        catalog = self.library.runtime.catalog
        present = [p for p in payload["papers"] if catalog.find_paper(p) is not None]
        left_out: list[RowResult | LeftOut] = [LeftOut(p, "deleted from the library since the table was asked for")
                                               for p in payload["papers"] if p not in present]
        if not present:
            return [LeftOut(p, "every paper of the table was deleted from the library since it was asked for",
                            status="failed") for p in payload["papers"]]
        rows: list[RowResult | LeftOut] = []

        def done(row: Row) -> None:
            rows.append(RowResult(row))
            self.progress(job, rows + left_out)
        self.tables.build(present, payload.get("columns") or None, payload.get("preset"), on_row=done)
        return rows + left_out

    def table(self) -> dict[str, Callable[[JobRow], Sequence[JobResult]]]:
        return {"upload": self.upload, "arxiv": self.arxiv, "import": self.import_bibliography, "zotero": self.zotero,
                "watch": self.watch, "table": self.evidence_table}


def admit(runtime: Runtime, jobs: JobQueue, owner: str, upload_bytes: int = 0) -> None:
    """Whether a key may queue another job now: TooManyJobsError when it already has its share waiting
    (SCISYNTH_MAX_PENDING_JOBS), QueueFullError when all keys together fill the queue (SCISYNTH_MAX_QUEUED_JOBS),
    QuotaExceededError when an upload would pass its storage quota (SCISYNTH_UPLOAD_QUOTA_MB)."""
    settings = runtime.settings
    waiting, most = jobs.unfinished(owner), settings.jobs.max_pending_jobs
    if waiting >= most:
        raise TooManyJobsError(f"this key has {waiting} jobs waiting (at most {most}); wait for them to finish")
    if jobs.unfinished() >= settings.jobs.max_queued_jobs:
        raise QueueFullError("the server's job queue is full; try again in a few minutes")
    quota = settings.jobs.upload_quota_mb * 1024 * 1024
    used = runtime.catalog.bytes_added_by(owner) + jobs.pending_upload_bytes(owner)
    if upload_bytes and used + upload_bytes > quota:
        raise QuotaExceededError(f"this upload ({upload_bytes:,} bytes) would pass this key's storage quota "
                                 f"({used:,} of {quota:,} bytes used); delete papers or ask an admin")


def job_queue(runtime: Runtime, on_result: Callable[[JobResult], None] | None = None) -> JobQueue:
    """This replica's job queue, its work table empty until the services fill it (service.build_services). An
    upload's file is on this replica's disk unless the replicas share one papers folder, so without one this replica
    alone runs its uploads and imports."""
    settings = runtime.settings
    return JobQueue(runtime.engine, {}, on_result=on_result, worker=replica_name(settings.storage.home_dir),
                    lease_seconds=settings.jobs.job_lease_seconds,
                    local_kinds=frozenset() if settings.storage.papers.strip() else frozenset({"upload", "import"}))
