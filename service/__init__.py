"""The application layer: the use cases every interface calls (the CLI, the HTTP routes, Slack, the job worker, the
evals), each a small service over the runtime. The interfaces only translate: arguments or requests in, results or
errors out.

    turns    TurnService     questions answered, conversations kept (service/turns.py)
    library  LibraryService  papers listed, searched, added, deleted, exported (service/library.py)
    watches  WatchService    literature watches saved and run as jobs (service/watches.py)
    claims   ClaimChecker    a claim checked against the library's papers (agent/claim_check.py)
    contradictions  ContradictionFinder  findings of two papers that disagree (agent/contradictions.py)
    tables   TableService    evidence tables: papers x questions, every cell quoted (service/tables.py)
    jobs     JobQueue        background work with its handlers (store/jobs.py, service/jobs.py)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.claim_check import ClaimChecker
from agent.contradictions import ContradictionFinder
from agent.evidence_tables import TableBuilder
from agent.papers import NewPaperReader
from agent.runtime import Runtime
from agent.stance import load_stance
from agent.watch import watch_runner
from service.jobs import JobWork, job_queue
from service.library import LibraryService
from service.maps import MapService
from service.pages import PageService
from service.tables import TableService
from service.turns import TurnObserver, TurnService
from service.watches import WatchService
from store.jobs import JobQueue, JobResult
from store.watches import DigestRow


@dataclass
class Services:
    runtime: Runtime
    turns: TurnService
    library: LibraryService
    watches: WatchService
    jobs: JobQueue
    claims: ClaimChecker
    contradictions: ContradictionFinder
    tables: TableService
    pages: PageService
    maps: MapService


def build_services(runtime: Runtime, observer: TurnObserver | None = None,
                   on_job_result: Callable[[JobResult], None] | None = None,
                   deliver: Callable[[DigestRow], str] | None = None) -> Services:
    """The services over one runtime. `observer` hears of every turn, `on_job_result` of every job's items,
    `deliver` posts watch digests (Slack). The job queue is built, not started: a server starts its worker."""
    jobs = job_queue(runtime, on_job_result)
    library = LibraryService(runtime)
    watches = WatchService(watch_runner(runtime, deliver), jobs)
    stance = load_stance(runtime.settings.answer.stance_model)
    turns = TurnService(runtime, observer)
    most_calls = runtime.settings.turn.max_llm_calls
    settings = runtime.settings
    new_papers = (NewPaperReader(runtime.arxiv, runtime.fetcher, runtime.catalog, settings.turn.papers_per_turn)
                  if settings.arxiv.use_arxiv and settings.turn.papers_per_turn > 0 else None)
    tables = TableService(TableBuilder(runtime.searcher, runtime.scorer, stance, runtime.model, most_calls), turns,
                          watches, new_papers)
    jobs.work.update(JobWork(library, watches, tables, jobs.record_progress).table())
    return Services(runtime, turns, library, watches, jobs,
                    ClaimChecker(runtime.searcher, runtime.scorer, stance, runtime.model, most_calls,
                                 new_papers=new_papers),
                    ContradictionFinder(runtime.searcher, runtime.scorer, stance), tables, PageService(runtime),
                    MapService(runtime, turns, watches))
