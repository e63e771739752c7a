"""Conversations: create, list, get, delete, and post a message (JSON, or SSE for text/event-stream)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from agent.runtime import Runtime
from api.deps import MetricsDep, Owner, RuntimeDep, WorkersDep
from api.metrics import Metrics
from api.streaming import turn_events

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


class NewConversation(BaseModel):
    title: str = Field(default="", max_length=200)


class NewMessage(BaseModel):
    content: str = Field(min_length=1, max_length=8000)
    mode: Literal["ask", "hypothesize", "search"] = "ask"
    n: int = Field(default=3, ge=1, le=10, description="hypotheses wanted (mode hypothesize)")


def _owned(runtime: Runtime, conversation_id: str, owner: str) -> None:
    if runtime.conversations.owned(conversation_id, owner) is None:
        raise HTTPException(404, f"no conversation {conversation_id}; create one with POST /v1/conversations")


def run_message(runtime: Runtime, metrics: Metrics, conversation_id: str | None, body: NewMessage,
                emit: Callable[[dict], None] | None = None) -> dict:
    """One turn for a message; `search` mode returns passages without writing an answer."""
    if body.mode == "search":
        passages = [p.public() for p in runtime.searcher.search(body.content, k=10)]
        return {"answer": "", "citations": [], "hypotheses": [], "results": passages, "trace": [],
                "conversation_id": conversation_id, "provider": None}
    try:
        result = runtime.ask(body.content, conversation_id, mode=body.mode, n=body.n, emit=emit)
    except Exception:
        metrics.turns.labels(runtime.composer.name, "error").inc()
        raise
    metrics.turns.labels(result["provider"] or "none", "ok").inc()
    metrics.llm_tokens.labels(result["provider"] or "none").inc(len(result["answer"].split()))
    return result


@router.post("", status_code=201)
def create_conversation(runtime: RuntimeDep, owner: Owner, body: NewConversation | None = None) -> dict:
    return runtime.conversations.create((body or NewConversation()).title, owner=owner).public()


@router.get("")
def list_conversations(runtime: RuntimeDep, owner: Owner, offset: int = 0, limit: int = 20) -> dict:
    rows = runtime.conversations.list(owner, max(0, offset), min(max(1, limit), 100))
    return {"conversations": [r.public() for r in rows], "offset": offset, "limit": limit}


@router.get("/{conversation_id}")
def get_conversation(runtime: RuntimeDep, owner: Owner, conversation_id: str) -> dict:
    _owned(runtime, conversation_id, owner)
    row = runtime.conversations.get(conversation_id)
    return {**row.public(), "messages": [m.public() for m in runtime.conversations.messages(conversation_id)]}


@router.delete("/{conversation_id}", status_code=204)
def delete_conversation(runtime: RuntimeDep, owner: Owner, conversation_id: str) -> Response:
    _owned(runtime, conversation_id, owner)
    runtime.conversations.delete(conversation_id)
    return Response(status_code=204)


@router.post("/{conversation_id}/messages")
async def post_message(request: Request, runtime: RuntimeDep, metrics: MetricsDep, workers: WorkersDep, owner: Owner,
                       conversation_id: str, body: NewMessage) -> object:
    _owned(runtime, conversation_id, owner)
    if "text/event-stream" in request.headers.get("accept", ""):
        events = turn_events(workers, lambda emit: run_message(runtime, metrics, conversation_id, body, emit))
        return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    return await run_in_threadpool(run_message, runtime, metrics, conversation_id, body)
