"""Conversations: create, list, get, delete, and post a message (JSON, or SSE for text/event-stream).

Conversations are private to the key that made them: each key has its own namespace of ids, so another
key gets 404, as if it did not exist, and may use the same id for its own. Posting to an id that does not
exist yet starts a conversation under that id, as `scisynth ask --conversation ID` does, so both
interfaces share one habit.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from agent.runtime import Runtime
from agent.turn import TurnRequest, TurnResult
from api import problems
from api.deps import LibraryDep, Reader, RuntimeDep, TurnsDep, WorkersDep
from api.schemas import Conversation, ConversationDetail, ConversationList
from api.streaming import sse_response, turn_events
from service.turns import Emit, TurnService
from store.conversations import CONVERSATION_ID, ConversationRow, UnknownConversationError
from store.keys import Caller
from tools.citation_export import MEDIA_TYPES

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], responses=problems.COMMON)
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


# What a client (and schemathesis' stateful tests) may do next with a new conversation's id.
_NEXT = {"links": {
    "ReadIt": {"operationId": "get_conversation", "parameters": {"conversation_id": "$response.body#/id"}},
    "AskInIt": {"operationId": "post_message", "parameters": {"conversation_id": "$response.body#/id"}}}}


@router.post("", status_code=201, responses={**problems.responses(409), 201: {"description": "the new conversation",
                                                                               **_NEXT}})
def create_conversation(runtime: RuntimeDep, caller: Reader, body: NewConversation | None = None) -> Conversation:
    body = body or NewConversation()
    if body.id and runtime.conversations.owned(body.id, caller.owner) is not None:
        raise HTTPException(409, f"you already have a conversation {body.id}; choose another id or leave it out")
    conversations = runtime.conversations
    row = conversations.ensure(body.id, body.title, caller.owner) if body.id else conversations.create(
        body.title, owner=caller.owner)
    return Conversation(**row.public())


@router.get("")
def list_conversations(runtime: RuntimeDep, caller: Reader, offset: Offset = 0,
                       limit: Annotated[int, Query(ge=1, le=100)] = 20) -> ConversationList:
    rows = runtime.conversations.recent(caller.owner, offset, limit)
    return ConversationList(conversations=[r.public() for r in rows], offset=offset, limit=limit)


@router.get("/{conversation_id}", responses=problems.responses(404), operation_id="get_conversation")
def get_conversation(runtime: RuntimeDep, caller: Reader, conversation_id: ConversationId) -> ConversationDetail:
    row = _owned(runtime, conversation_id, caller)
    return ConversationDetail(**row.public(), messages=[m.public() for m in runtime.conversations.messages(row.id)])


@router.get("/{conversation_id}/references", responses={
    **problems.responses(404), 200: {"description": "the papers the conversation's answers cite",
                                     "content": {media: {} for media in MEDIA_TYPES.values()}}})
def conversation_references(runtime: RuntimeDep, turns: TurnsDep, library: LibraryDep, caller: Reader,
                            conversation_id: ConversationId,
                            fmt: Annotated[Literal["bibtex", "ris", "csl-json"], Query(alias="format")] = "bibtex"
                            ) -> Response:
    """The library papers this conversation's answers cite, first cited first, as BibTeX, RIS or CSL-JSON."""
    row = _owned(runtime, conversation_id, caller)
    text = library.export(turns.cited_papers(row.id), fmt)
    extension = {"bibtex": "bib", "ris": "ris", "csl-json": "json"}[fmt]
    return Response(text, media_type=f"{MEDIA_TYPES[fmt]}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{row.public_id}-references.{extension}"'})


@router.delete("/{conversation_id}", status_code=204, responses=problems.responses(404))
def delete_conversation(runtime: RuntimeDep, caller: Reader, conversation_id: ConversationId) -> Response:
    runtime.conversations.delete(_owned(runtime, conversation_id, caller).id)
    return Response(status_code=204)


def _turn(turns: TurnService, row: ConversationRow, body: NewMessage, emit: Emit | None = None) -> TurnResult:
    try:
        result = turns.run(TurnRequest(question=body.content, mode=body.mode, n=body.n, conversation_id=row.id), emit)
    except UnknownConversationError as error:
        raise HTTPException(404, f"the conversation {row.public_id} was deleted") from error
    result.conversation_id = row.public_id
    return result


@router.post("/{conversation_id}/messages", operation_id="post_message", response_model=TurnResult, responses={
    **problems.responses(404),
    200: {"description": "the turn's result as JSON, or Server-Sent Events with Accept: text/event-stream",
          "content": {"text/event-stream": {}}}})
async def post_message(request: Request, runtime: RuntimeDep, turns: TurnsDep, workers: WorkersDep, caller: Reader,
                       conversation_id: ConversationId, body: NewMessage) -> object:
    """Ask in the conversation (an id that does not exist yet starts it): the turn's result as JSON, or its events
    as Server-Sent Events with Accept: text/event-stream."""
    row = runtime.conversations.ensure(conversation_id, body.content, caller.owner)
    if "text/event-stream" in request.headers.get("accept", ""):
        return sse_response(turn_events(workers, lambda emit: _turn(turns, row, body, emit)),
                            runtime.settings.service.shutdown_grace_seconds)
    return await run_in_threadpool(_turn, turns, row, body)
