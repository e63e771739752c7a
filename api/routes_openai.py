"""An OpenAI-compatible face: `POST /v1/chat/completions` and `GET /v1/models`, model `scisynth`.

The answer is the message content with a markdown reference list appended; the structured citations
travel in an extra `citations` field that OpenAI clients ignore and SciSynth-aware ones read.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api import problems
from api.deps import MetricsDep, Reader, RuntimeDep, WorkersDep
from api.routes_conversations import NewMessage, run_message
from api.streaming import turn_events

router = APIRouter(prefix="/v1", tags=["openai-compatible"], responses=problems.COMMON)
MODEL = "scisynth"


class TextPart(BaseModel):
    """A text content part; other part types (images, audio) are refused with 422: SciSynth reads text."""

    type: Literal["text"]
    text: str = Field(max_length=32_000)


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None


class ChatRequest(BaseModel):
    model: str = Field(default=MODEL, max_length=100)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


def with_references(answer: str, citations: list[dict]) -> str:
    if not citations:
        return answer
    lines = [f"[{c['n']}] {c['title']}, {c['section']}" + (f", p. {c['page']}" if c["page"] else "")
             + (f" ({c['url']})" if c.get("url") else "") + f': "{c["quote"]}"' for c in citations]
    return answer + "\n\n**References**\n\n" + "\n".join(f"- {line}" for line in lines)


def _question(request: ChatRequest) -> str:
    users = [m for m in request.messages if m.role == "user" and m.content]
    if not users:
        raise HTTPException(422, "messages must include a user message with content")
    content = users[-1].content
    text = content if isinstance(content, str) else " ".join(part.text for part in content)
    if not text.strip():
        raise HTTPException(422, "the last user message has no text")
    return text


@router.get("/models")
def models(_caller: Reader) -> dict:
    return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "scisynth"}]}


@router.post("/chat/completions", responses={**problems.responses(404), 200: {
    "description": "a chat.completion, or chat.completion.chunk events with stream=true",
    "content": {"text/event-stream": {}}}})
async def chat_completions(request: ChatRequest, runtime: RuntimeDep, metrics: MetricsDep, workers: WorkersDep,
                           _caller: Reader) -> object:
    if request.model != MODEL:
        raise HTTPException(404, f"unknown model {request.model!r}; this server serves {MODEL!r}")
    body = NewMessage(content=_question(request)[:8000])
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not request.stream:
        result = await run_in_threadpool(run_message, runtime, metrics, None, body)
        content = with_references(result["answer"], result["citations"])
        return {"id": completion_id, "object": "chat.completion", "created": created, "model": MODEL,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": len(body.content.split()), "completion_tokens": len(content.split()),
                          "total_tokens": len(body.content.split()) + len(content.split())},
                "citations": result["citations"], "hypotheses": result["hypotheses"]}

    def chunk(delta: dict, finish: str | None = None, **extra: object) -> str:
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    async def stream() -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        async for text in turn_events(workers, lambda emit: run_message(runtime, metrics, None, body, emit)):
            event, _, data = text.partition("\ndata: ")
            payload = json.loads(data)
            if event == "event: token":
                yield chunk({"content": payload["text"]})
            elif event == "event: done":
                yield chunk({"content": with_references("", payload["citations"])}, "stop",
                            citations=payload["citations"])
            elif event == "event: error":
                yield chunk({"content": f"\n\n(error: {payload['detail']})"}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")
