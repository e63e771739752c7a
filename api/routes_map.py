"""The library map over HTTP: papers in 2D by subject, labelled clusters, citations between them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from api import problems
from api.deps import MapsDep, Reader, RuntimeDep
from api.routes_conversations import _owned
from api.schemas import LibraryMapView
from service.errors import NotYoursError
from store.watches import WatchError

router = APIRouter(prefix="/v1", tags=["library"], responses=problems.COMMON)


@router.get("/library/map", responses=problems.responses(403, 404))
async def library_map(maps: MapsDep, runtime: RuntimeDep, caller: Reader,
                      watch: Annotated[str | None, Query(max_length=64, description="mark this watch's new "
                                                                                    "papers")] = None,
                      conversation: Annotated[str | None, Query(max_length=64, description="mark the papers this "
                                                                "conversation cites")] = None,
                      recompute: Annotated[bool, Query(description="admin: lay the whole library out again instead "
                                                       "of placing new papers among their neighbours (every "
                                                       "user's map moves)")] = False,
                      ) -> LibraryMapView:
    """The library as a map: each paper placed by what it is about, grouped into labelled clusters, with the
    citations between library papers; the same library gives the same map."""
    if recompute and not caller.can("admin"):
        raise HTTPException(403, "only an admin may lay the library's map out again: everyone's map would move")
    if conversation is not None:
        _owned(runtime, conversation, caller)
    owner = None if caller.can("admin") else caller.owner
    try:
        built = await run_in_threadpool(maps.build, watch, conversation, owner, recompute)
    except (WatchError, NotYoursError) as error:
        raise HTTPException(404, f"no watch {watch} for this key") from error
    return LibraryMapView.model_validate(built.public())
