"""Literature watches' use cases: save, list, remove, read digests, and run, for the CLI, the HTTP API and the
scheduler. A run is always a job (kind "watch", subject "watch:ID"), so the job queue's lease is what keeps two
runs of one watch apart, on one replica or several.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from agent.watch import WatchRunner, watch_query
from service.errors import NotYoursError
from store.catalog import Catalog
from store.jobs import JobQueue, JobRow
from store.watches import DigestRow, WatchError, WatchRow, WatchStore

log = logging.getLogger(__name__)
WAIT_FOR_ROOM = timedelta(minutes=15)  # a due watch whose owner's job queue is full runs this much later


@dataclass(frozen=True)
class NewWatch:
    name: str
    query: str = ""
    categories: tuple[str, ...] = ()
    title: str | None = None
    author: str | None = None
    questions: tuple[str, ...] = ()
    every_hours: float = 24.0
    max_results: int = 20
    with_pdf: bool = True


@dataclass
class WatchService:
    runner: WatchRunner
    jobs: JobQueue

    @property
    def store(self) -> WatchStore:
        return self.runner.store

    def add(self, watch: NewWatch, owner: str = "") -> WatchRow:
        """Save a watch (WatchError when it would match everything, is malformed, or the key has too many)."""
        query = watch_query(watch.query, list(watch.categories), title=watch.title, author=watch.author)
        return self.store.add(watch.name, query, list(watch.questions), watch.every_hours, watch.max_results,
                              watch.with_pdf, owner)

    def owned(self, watch_id: str, owner: str | None) -> WatchRow:
        """The watch, when `owner` may change or run it (None: an admin or the operator, who may do anything);
        WatchError when there is no such watch, NotYoursError when it is another key's."""
        watch = self.store.get(watch_id)
        if watch is None:
            raise WatchError(f"no watch {watch_id}")
        if owner is not None and watch.owner != owner:
            raise NotYoursError("only the key that saved this watch, or an admin, may change or run it")
        return watch

    def remove(self, watch_id: str, owner: str | None = None) -> None:
        self.owned(watch_id, owner)
        self.store.remove(watch_id)

    def digests(self, watch_id: str | None = None, limit: int = 20, owner: str | None = None) -> list[DigestRow]:
        return self.store.digests(watch_id, limit, owner)

    def added_papers(self, watch_id: str, owner: str | None, catalog: Catalog) -> list[str]:
        """The papers the watch's runs added that are still in the library, newest digest first (WatchError,
        NotYoursError as `owned`)."""
        self.owned(watch_id, owner)
        added = [entry["paper_id"] for digest in self.store.digests(watch_id, limit=50)
                 for entry in digest.entries if entry.get("paper_id")]
        return [paper for paper in dict.fromkeys(added) if catalog.find_paper(paper) is not None]

    def queue_run(self, watch_id: str, requested_by: str) -> JobRow:
        """Queue a run of the watch now (the run already waiting or running, if there is one)."""
        return self.jobs.submit("watch", {"watch_id": watch_id}, requested_by, subject=f"watch:{watch_id}")

    def queue_due(self, max_pending_jobs: int) -> list[JobRow]:
        """Queue a run of each due watch this replica claims (the claim is atomic in the shared database, so with
        several replicas each due watch runs once), as the watch's owner and within that key's job limit: when its
        queue is full the run waits WAIT_FOR_ROOM."""
        queued = []
        for watch_id in self.store.claim_due():
            watch = self.store.get(watch_id)
            if watch is None:
                continue
            if self.jobs.unfinished(watch.owner) >= max_pending_jobs:
                log.info("watch %s waits: its owner has %d jobs waiting", watch_id, max_pending_jobs)
                self.store.postpone(watch_id, WAIT_FOR_ROOM)
                continue
            queued.append(self.queue_run(watch_id, watch.owner))
        return queued
