"""Request-scoped access to the app's runtime and services (explicit FastAPI dependencies).

Authentication already happened in the guard (before the body was read); these dependencies only read
who the caller is and check the role a route needs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agent.runtime import Runtime
from agent.watch import WatchRunner
from api.auth import Caller
from api.jobs import JobQueue
from api.metrics import Metrics
from api.streaming import TurnWorkers


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_workers(request: Request) -> TurnWorkers:
    return request.app.state.workers


def get_jobs(request: Request) -> JobQueue:
    return request.app.state.jobs


def get_watches(request: Request) -> WatchRunner:
    return request.app.state.watches


def get_caller(request: Request) -> Caller:
    return request.state.caller  # set by the guard for every request it lets through


def get_member(request: Request) -> Caller:
    caller = get_caller(request)
    caller.require("member")
    return caller


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
WorkersDep = Annotated[TurnWorkers, Depends(get_workers)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]
WatchesDep = Annotated[WatchRunner, Depends(get_watches)]
Reader = Annotated[Caller, Depends(get_caller)]  # any valid key
Member = Annotated[Caller, Depends(get_member)]  # may add papers
