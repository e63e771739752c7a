"""Request-scoped access to the app's services (explicit FastAPI dependencies).

Authentication already happened in the guard (before the body was read); these dependencies only read who the
caller is and check the role a route needs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from agent.claim_check import ClaimChecker
from agent.contradictions import ContradictionFinder
from agent.papers import NewPaperReader
from agent.runtime import Runtime
from api.metrics import Metrics
from api.streaming import TurnWorkers
from service import Services
from service.library import LibraryService
from service.maps import MapService
from service.pages import PageService
from service.tables import TableService
from service.turns import TurnService
from service.watches import WatchService
from store.jobs import JobQueue
from store.keys import Caller


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_runtime(request: Request) -> Runtime:
    return request.app.state.services.runtime


def get_turns(request: Request) -> TurnService:
    return request.app.state.services.turns


def get_library(request: Request) -> LibraryService:
    return request.app.state.services.library


def get_watches(request: Request) -> WatchService:
    return request.app.state.services.watches


def get_claims(request: Request) -> ClaimChecker:
    return request.app.state.services.claims


def get_tables(request: Request) -> TableService:
    return request.app.state.services.tables


def get_pages(request: Request) -> PageService:
    return request.app.state.services.pages


def get_maps(request: Request) -> MapService:
    return request.app.state.services.maps


def get_contradictions(request: Request) -> ContradictionFinder:
    return request.app.state.services.contradictions


def get_jobs(request: Request) -> JobQueue:
    return request.app.state.services.jobs


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_workers(request: Request) -> TurnWorkers:
    return request.app.state.workers


def get_caller(request: Request) -> Caller:
    return request.state.caller  # set by the guard for every request it lets through


def may_read_arxiv(caller: Caller, reader: NewPaperReader | None, without: str) -> None:
    """Refuse, before any work, a request to read arXiv's papers into the library: 403 below 'member' (it adds
    papers), 409 where reading is turned off; `without` says how to ask instead ("check without \"arxiv\"")."""
    if not caller.can("member"):
        raise HTTPException(403, f"this API key has the role '{caller.role}'; reading arXiv's papers into the library "
                                 f"needs 'member' or higher: {without}, or use a member's key")
    if reader is None:
        raise HTTPException(409, "reading arXiv's papers is turned off on this server (SCISYNTH_USE_ARXIV=false or "
                                 f"SCISYNTH_PAPERS_PER_TURN=0): {without}")


def get_member(request: Request) -> Caller:
    caller = get_caller(request)
    if not caller.can("member"):
        raise HTTPException(403, f"this API key has the role '{caller.role}'; this needs 'member' or higher")
    return caller


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
TurnsDep = Annotated[TurnService, Depends(get_turns)]
LibraryDep = Annotated[LibraryService, Depends(get_library)]
WatchesDep = Annotated[WatchService, Depends(get_watches)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]
ClaimsDep = Annotated[ClaimChecker, Depends(get_claims)]
ContradictionsDep = Annotated[ContradictionFinder, Depends(get_contradictions)]
TablesDep = Annotated[TableService, Depends(get_tables)]
PagesDep = Annotated[PageService, Depends(get_pages)]
MapsDep = Annotated[MapService, Depends(get_maps)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
WorkersDep = Annotated[TurnWorkers, Depends(get_workers)]
Reader = Annotated[Caller, Depends(get_caller)]  # any valid key
Member = Annotated[Caller, Depends(get_member)]  # may add papers


def scope(caller: Caller) -> str | None:
    """Whose objects (watches, digests, jobs) a caller may see and change: its own; an admin, everyone's (None)."""
    return None if caller.can("admin") else caller.owner
