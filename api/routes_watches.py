"""Literature watches over HTTP: save, list, remove and run watches, and read their digests (the web page's
Watches tab). A run is a job like an upload: poll GET /v1/jobs/{id}, then read GET /v1/digests. Watches and
digests are private to the key that saved them (an admin sees all)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field

from api import problems
from api.deps import JobsDep, Member, Reader, RuntimeDep, WatchesDep, scope
from api.schemas import DigestList, Job, Watch, WatchList
from service.jobs import admit
from service.watches import NewWatch as WatchRequest
from store.watches import WatchError

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


@router.get("/watches")
def list_watches(watches: WatchesDep, caller: Reader) -> WatchList:
    """This key's watches (an admin's: every key's)."""
    return WatchList(watches=[w.public() for w in watches.store.saved(scope(caller))])


@router.post("/watches", status_code=201, responses=problems.responses(403, 422))
def add_watch(body: NewWatch, watches: WatchesDep, caller: Member) -> Watch:
    try:
        watch = watches.add(WatchRequest(body.name, body.query, tuple(body.categories), body.title, body.author,
                                         tuple(body.questions), body.every_hours, body.max_results, body.with_pdf),
                            caller.owner)
    except WatchError as error:
        raise HTTPException(422, str(error)) from error
    return Watch(**watch.public())


def _owned(watches: WatchesDep, caller: Member, watch_id: str) -> None:
    try:
        watches.owned(watch_id, scope(caller))
    except WatchError as error:
        raise HTTPException(404, str(error)) from error


@router.delete("/watches/{watch_id}", status_code=204, responses=problems.responses(403, 404))
def remove_watch(watches: WatchesDep, caller: Member, watch_id: WatchId) -> Response:
    _owned(watches, caller, watch_id)
    watches.store.remove(watch_id)
    return Response(status_code=204)


@router.post("/watches/{watch_id}/run", status_code=202, responses=problems.responses(403, 404))  # 429 in COMMON
def run_watch(watches: WatchesDep, jobs: JobsDep, runtime: RuntimeDep, caller: Member, watch_id: WatchId) -> Job:
    """Run the watch now, as a job; its digest (if there are new papers) appears in GET /v1/digests."""
    _owned(watches, caller, watch_id)
    admit(runtime, jobs, caller.owner)
    return Job(**watches.queue_run(watch_id, caller.owner).public())


@router.get("/digests")
def list_digests(watches: WatchesDep, caller: Reader,
                 watch_id: Annotated[str | None, Query(max_length=40)] = None,
                 limit: Annotated[int, Query(ge=1, le=100)] = 20) -> DigestList:
    """The latest digests of this key's watches (an admin's: every key's), newest first: each new paper with its
    summary and what it says on the standing questions, quoted with the page."""
    return DigestList(digests=[d.public() for d in watches.digests(watch_id, limit, scope(caller))])
