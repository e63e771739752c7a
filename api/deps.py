"""Request-scoped access to the app's runtime and services (explicit FastAPI dependencies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agent.runtime import Runtime
from api.auth import authenticate
from api.metrics import Metrics
from api.streaming import TurnWorkers


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_workers(request: Request) -> TurnWorkers:
    return request.app.state.workers


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
WorkersDep = Annotated[TurnWorkers, Depends(get_workers)]
Owner = Annotated[str, Depends(authenticate)]
