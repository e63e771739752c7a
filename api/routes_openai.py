"""An OpenAI-compatible face: `POST /v1/chat/completions` and `GET /v1/models`, model `scisynth`.

The whole conversation a client sends is used: system (and developer) messages become standing
instructions, earlier user/assistant turns become the history the planner resolves follow-ups against
(the most recent ones, within a character budget), and the last user message is the question.
The answer is the message content with hypotheses and a Markdown reference list after it; the
structured citations travel in an extra `citations` field (and `answered`: false when the library does
not answer, with the `related` passages) that OpenAI clients ignore and SciSynth-aware ones read. With
`stream=true` the content arrives as the answer is written; when the citation check changes it, a last
chunk carries the checked answer. `usage` is the providers' own token counts, and is
absent when no model wrote anything (extractive answers).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, field_validator
from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from agent.state import Turn
from agent.turn import TurnRequest, TurnResult
from api import problems
from api.answers import MARKDOWN, AnswerGuard, after_answer, how_made, inert_answer
from api.deps import Reader, TurnsDep, WorkersDep
from api.schemas import ChatChoice, ChatCompletion, ModelCard, ModelList, encodable
from api.streaming import PING_SECONDS, turn_events
from service.turns import Emit

router = APIRouter(prefix="/v1", tags=["openai-compatible"], responses=problems.COMMON)
MODEL = "scisynth"
HISTORY_CHARACTERS = 6000  # earlier turns kept, newest first, until this many characters
ANSWER_CHARACTERS = 1500  # of each earlier answer


class TextPart(BaseModel):
    """A text content part; other part types (images, audio) are refused with 422: SciSynth reads text."""

    type: Literal["text"]
    text: str = Field(max_length=32_000)

    _valid = field_validator("text")(encodable)


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    @field_validator("content")
    @classmethod
    def _valid_text(cls, content: str | list[TextPart] | None) -> str | list[TextPart] | None:
        return encodable(content) if isinstance(content, str) else content

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(part.text for part in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    model: str = Field(default=MODEL, max_length=100)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


def read_conversation(messages: list[ChatMessage]) -> tuple[str, list[Turn], str]:
    """(question, earlier turns, instructions) from an OpenAI message list."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user" and m.text.strip()), default=None)
    if last_user is None:
        raise HTTPException(422, "messages must include a user message with text")
    instructions = "\n\n".join(m.text for m in messages if m.role in ("system", "developer") and m.text.strip())
    turns: list[Turn] = []
    question: str | None = None
    for message in messages[:last_user]:
        if message.role == "user":
            question = message.text
        elif message.role == "assistant" and question is not None:
            turns.append(Turn(question=question, answer=message.text[:ANSWER_CHARACTERS]))
            question = None
    kept: list[Turn] = []
    for turn in reversed(turns):
        if sum(len(t["question"]) + len(t["answer"]) for t in kept) + len(turn["answer"]) > HISTORY_CHARACTERS:
            break
        kept.insert(0, turn)
    return messages[last_user].text, kept, instructions[:8000]


def _usage(result: TurnResult) -> dict[str, int] | None:
    usage = result.usage
    if usage is None:
        return None
    return {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens}


def _tail(result: TurnResult) -> str:
    """Hypotheses, references and how the answer was made: what follows the answer."""
    return "\n\n".join(part for part in (after_answer(result, MARKDOWN), how_made(result)) if part)


@router.get("/models")
def models(_caller: Reader) -> ModelList:
    return ModelList(object="list", data=[ModelCard(id=MODEL, object="model", created=0, owned_by="scisynth")])


@router.post("/chat/completions", response_model=ChatCompletion, responses={**problems.responses(404), 200: {
    "description": "a chat.completion, or chat.completion.chunk events with stream=true",
    "content": {"text/event-stream": {}}}})
async def chat_completions(request: ChatRequest, turns: TurnsDep, workers: WorkersDep,
                           _caller: Reader) -> object:
    if request.model != MODEL:
        raise HTTPException(404, f"unknown model {request.model!r}; this server serves {MODEL!r}")
    question, history, instructions = read_conversation(request.messages)
    turn = TurnRequest(question=question[:8000], instructions=instructions, history=history)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def run(emit: Emit | None = None) -> TurnResult:
        return turns.run(turn, emit)

    if not request.stream:
        result = await run_in_threadpool(run)
        content = "\n\n".join(part for part in (inert_answer(result.answer), _tail(result)) if part)
        return ChatCompletion(id=completion_id, object="chat.completion", created=created, model=MODEL,
                              choices=[ChatChoice(index=0, finish_reason="stop",
                                                  message={"role": "assistant", "content": content})],
                              usage=_usage(result), citations=result.citations, hypotheses=result.hypotheses,
                              answered=result.answered, related=result.related)

    def chunk(delta: dict, finish: str | None = None, **extra: object) -> ServerSentEvent:
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return ServerSentEvent(data=json.dumps(payload, ensure_ascii=False))

    events = turn_events(workers, run)  # before the response starts: a full house is a 503

    async def stream() -> AsyncIterator[ServerSentEvent]:
        yield chunk({"role": "assistant", "content": ""})
        revised, guard = None, AnswerGuard()
        async for event in events:
            if event.event == "token":
                yield chunk({"content": guard.feed(event.data["text"])})
            elif event.event == "revised":
                revised = event.data["answer"]
            elif event.event == "done":
                result = TurnResult.model_validate(event.data)
                checked = f"\n\n---\nChecked answer:\n\n{inert_answer(revised)}" if revised is not None else ""
                tail = _tail(result)
                yield chunk({"content": guard.flush() + checked + (f"\n\n{tail}" if tail else "")}, "stop",
                            citations=result.citations, usage=_usage(result), answered=result.answered,
                            related=result.related)
            elif event.event == "error":
                yield chunk({"content": f"\n\n(error: {event.data['detail']})"}, "stop")
        yield ServerSentEvent(data="[DONE]")

    return EventSourceResponse(stream(), ping=PING_SECONDS, sep="\n")
