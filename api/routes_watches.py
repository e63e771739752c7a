"""Literature watches over HTTP: save, list, remove and run watches, and read their digests (the web page's
Watches tab). A run is a job like an upload: poll GET /v1/jobs/{id}, then read GET /v1/digests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field

from agent.watch import WatchError, watch_query
from api import problems
from api.auth import Caller
from api.deps import JobsDep, Member, Reader, RuntimeDep, WatchesDep
from api.routes_library import check_job_room

router = APIRouter(prefix="/v1", tags=["watches"], responses=problems.COMMON)
WatchId = Annotated[str, Path(min_length=1, max_length=40, description="an id from GET /v1/watches")]


class NewWatch(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    query: str = Field(default="", max_length=500, description="arXiv search words (or fielded, e.g. ti:graph)")
    title: str | None = Field(default=None, max_length=200)
    author: str | None = Field(default=None, max_length=200)
    categories: list[Annotated[str, Field(max_length=40)]] = Field(default=[], max_length=10,
                                                                   description="arXiv categories, any of them")
    questions: list[Annotated[str, Field(min_length=3, max_length=500)]] = Field(default=[], max_length=5)
    every_hours: float = Field(default=24.0, ge=0.25, le=744)
    max_results: int = Field(default=20, ge=1, le=100)
    with_pdf: bool = True


def _scope(caller: Caller) -> str | None:
    """Whose watches and digests a caller sees: its own; an admin, everyone's."""
    return None if caller.can("admin") else caller.owner


@router.get("/watches")
def list_watches(watches: WatchesDep, caller: Reader) -> dict:
    """This key's watches (an admin's: every key's)."""
    return {"watches": [w.public() for w in watches.store.list(_scope(caller))]}


@router.post("/watches", status_code=201, responses=problems.responses(403, 422))
def add_watch(body: NewWatch, watches: WatchesDep, caller: Member) -> dict:
    try:
        query = watch_query(body.query, body.categories, title=body.title, author=body.author)
        watch = watches.store.add(body.name, query, body.questions, body.every_hours, body.max_results,
                                  body.with_pdf, caller.owner)
    except WatchError as error:
        raise HTTPException(422, str(error)) from error
    return watch.public()


def _owned(watches: WatchesDep, caller: Member, watch_id: str) -> None:
    watch = watches.store.get(watch_id)
    if watch is None:
        raise HTTPException(404, f"no watch {watch_id}")
    if not (caller.can("admin") or watch.owner == caller.owner):
        raise HTTPException(403, "only the key that saved this watch, or an admin, may change or run it")


@router.delete("/watches/{watch_id}", status_code=204, responses=problems.responses(403, 404))
def remove_watch(watches: WatchesDep, caller: Member, watch_id: WatchId) -> Response:
    _owned(watches, caller, watch_id)
    watches.store.remove(watch_id)
    return Response(status_code=204)


@router.post("/watches/{watch_id}/run", status_code=202, responses=problems.responses(403, 404))  # 429 in COMMON
def run_watch(watches: WatchesDep, jobs: JobsDep, runtime: RuntimeDep, caller: Member, watch_id: WatchId) -> dict:
    """Run the watch now, as a job; its digest (if there are new papers) appears in GET /v1/digests."""
    _owned(watches, caller, watch_id)
    check_job_room(runtime, jobs, caller)
    return jobs.submit("watch", {"watch_id": watch_id}, caller.owner).public()


@router.get("/digests")
def list_digests(watches: WatchesDep, caller: Reader,
                 watch_id: Annotated[str | None, Query(max_length=40)] = None,
                 limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
    """The latest digests of this key's watches (an admin's: every key's), newest first: each new paper with its
    summary and what it says on the standing questions, quoted with the page."""
    return {"digests": [d.public() for d in watches.store.digests(watch_id, limit, _scope(caller))]}
