"""Conversations: create, list, get, delete, and post a message (JSON, or SSE for text/event-stream).

Conversations are private to the key that made them: each key has its own namespace of ids, so another
key gets 404, as if it did not exist, and may use the same id for its own. Posting to an id that does not
exist yet starts a conversation under that id, as `scisynth ask --conversation ID` does, so both
interfaces share one habit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from agent.conversations import ConversationRow, UnknownConversationError
from agent.runtime import Runtime
from agent.state import Turn
from api import problems
from api.auth import Caller
from api.deps import MetricsDep, Reader, RuntimeDep, WorkersDep
from api.metrics import Metrics
from api.streaming import sse_response, turn_events
from tools.citation_export import MEDIA_TYPES

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], responses=problems.COMMON)
CONVERSATION_ID = r"^[A-Za-z0-9._-]{1,64}$"
ConversationId = Annotated[str, Path(pattern=CONVERSATION_ID, description="a conversation id (letters, digits, "
                                                                          "'.', '_', '-'; at most 64)")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="how many to skip")]


class NewConversation(BaseModel):
    title: str = Field(default="", max_length=200)
    id: str | None = Field(default=None, pattern=CONVERSATION_ID, description="choose the id (default: random)")


class NewMessage(BaseModel):
    content: str = Field(min_length=1, max_length=8000)
    mode: Literal["ask", "hypothesize", "search"] = "ask"
    n: int = Field(default=3, ge=1, le=10, description="hypotheses wanted (mode hypothesize)")


def _owned(runtime: Runtime, conversation_id: str, caller: Caller) -> ConversationRow:
    row = runtime.conversations.owned(conversation_id, caller.owner)
    if row is None:
        raise HTTPException(404, f"no conversation {conversation_id} for this key")
    return row


def run_message(runtime: Runtime, metrics: Metrics, conversation_id: str | None, body: NewMessage,
                emit: Callable[[dict], None] | None = None, instructions: str = "",
                history: list[Turn] | None = None) -> dict:
    """One turn for a message; `search` mode returns passages without writing an answer."""
    if body.mode == "search":
        passages = [p.public() for p in runtime.searcher.search(body.content, k=10)]
        return {"answer": "", "citations": [], "hypotheses": [], "results": passages, "trace": [],
                "conversation_id": conversation_id, "provider": None, "usage": None, "fallbacks": []}
    try:
        result = runtime.ask(body.content, conversation_id, mode=body.mode, n=body.n, emit=emit,
                             instructions=instructions, history=history)
    except Exception:
        metrics.turns.labels(runtime.composer.name, "error").inc()
        raise
    metrics.turns.labels(result["provider"] or "none", "fallback" if result["fallbacks"] else "ok").inc()
    for kind, tokens in (result["usage"] or {}).items():
        if kind != "total_tokens":
            metrics.llm_tokens.labels(runtime.composer.name, kind.removesuffix("_tokens")).inc(tokens)
    return result


# What a client (and schemathesis' stateful tests) may do next with a new conversation's id.
_NEXT = {"links": {
    "ReadIt": {"operationId": "get_conversation", "parameters": {"conversation_id": "$response.body#/id"}},
    "AskInIt": {"operationId": "post_message", "parameters": {"conversation_id": "$response.body#/id"}}}}


@router.post("", status_code=201, responses={**problems.responses(409), 201: {"description": "the new conversation",
                                                                               **_NEXT}})
def create_conversation(runtime: RuntimeDep, caller: Reader, body: NewConversation | None = None) -> dict:
    body = body or NewConversation()
    if body.id and runtime.conversations.owned(body.id, caller.owner) is not None:
        raise HTTPException(409, f"you already have a conversation {body.id}; choose another id or leave it out")
    if body.id:
        return runtime.open_conversation(body.id, body.title, caller.owner).public()
    return runtime.conversations.create(body.title, owner=caller.owner).public()


@router.get("")
def list_conversations(runtime: RuntimeDep, caller: Reader, offset: Offset = 0,
                       limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
    rows = runtime.conversations.list(caller.owner, offset, limit)
    return {"conversations": [r.public() for r in rows], "offset": offset, "limit": limit}


@router.get("/{conversation_id}", responses=problems.responses(404), operation_id="get_conversation")
def get_conversation(runtime: RuntimeDep, caller: Reader, conversation_id: ConversationId) -> dict:
    row = _owned(runtime, conversation_id, caller)
    return {**row.public(), "messages": [m.public() for m in runtime.conversations.messages(row.id)]}


@router.get("/{conversation_id}/references", responses={
    **problems.responses(404), 200: {"description": "the papers the conversation's answers cite",
                                     "content": {media: {} for media in MEDIA_TYPES.values()}}})
def conversation_references(runtime: RuntimeDep, caller: Reader, conversation_id: ConversationId,
                            fmt: Annotated[Literal["bibtex", "ris", "csl-json"], Query(alias="format")] = "bibtex"
                            ) -> Response:
    """The library papers this conversation's answers cite, first cited first, as BibTeX, RIS or CSL-JSON."""
    row = _owned(runtime, conversation_id, caller)
    text = runtime.export_references(runtime.cited_papers(row.id), fmt)
    extension = {"bibtex": "bib", "ris": "ris", "csl-json": "json"}[fmt]
    return Response(text, media_type=f"{MEDIA_TYPES[fmt]}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{row.public_id}-references.{extension}"'})


@router.delete("/{conversation_id}", status_code=204, responses=problems.responses(404))
def delete_conversation(runtime: RuntimeDep, caller: Reader, conversation_id: ConversationId) -> Response:
    runtime.delete_conversation(_owned(runtime, conversation_id, caller).id)
    return Response(status_code=204)


def _turn(runtime: Runtime, metrics: Metrics, row: ConversationRow, body: NewMessage,
          emit: Callable[[dict], None] | None = None) -> dict:
    try:
        result = run_message(runtime, metrics, row.id, body, emit)
    except UnknownConversationError as error:
        raise HTTPException(404, f"the conversation {row.public_id} was deleted") from error
    return {**result, "conversation_id": row.public_id}


@router.post("/{conversation_id}/messages", operation_id="post_message", responses={
    **problems.responses(404),
    200: {"description": "the turn's result as JSON, or Server-Sent Events with Accept: text/event-stream",
          "content": {"text/event-stream": {}}}})
async def post_message(request: Request, runtime: RuntimeDep, metrics: MetricsDep, workers: WorkersDep,
                       caller: Reader, conversation_id: ConversationId, body: NewMessage) -> object:
    row = runtime.open_conversation(conversation_id, body.content, caller.owner)
    if "text/event-stream" in request.headers.get("accept", ""):
        return sse_response(turn_events(workers, lambda emit: _turn(runtime, metrics, row, body, emit)))
    return await run_in_threadpool(_turn, runtime, metrics, row, body)
