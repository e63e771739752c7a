"""The FastAPI application: conversations over the same agent the CLI runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from agent.runtime import Runtime, UnknownConversationError, build_runtime
from agent.settings import Settings


class NewConversation(BaseModel):
    title: str = Field(default="", max_length=200)


class NewMessage(BaseModel):
    content: str = Field(min_length=1, max_length=8000)


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """The app; pass a ready `runtime` (tests) or let the lifespan build one from `settings`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime or build_runtime(settings or Settings())
        yield

    app = FastAPI(title="SciSynth", version="0.1.0", lifespan=lifespan,
                  description="Research assistant: answers with page-level citations from your paper library.")

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/v1/conversations", status_code=201)
    def create_conversation(request: Request, body: NewConversation | None = None) -> dict:
        row = _runtime(request).conversations.create((body or NewConversation()).title)
        return {"id": row.id, "title": row.title, "created_at": row.created_at.isoformat()}

    @app.get("/v1/conversations/{conversation_id}")
    def get_conversation(request: Request, conversation_id: str) -> dict:
        store = _runtime(request).conversations
        row = store.get(conversation_id)
        if row is None:
            raise HTTPException(404, f"no conversation {conversation_id}")
        return {"id": row.id, "title": row.title, "created_at": row.created_at.isoformat(),
                "messages": [m.public() for m in store.messages(conversation_id)]}

    @app.post("/v1/conversations/{conversation_id}/messages")
    def post_message(request: Request, conversation_id: str, body: NewMessage) -> dict:
        # A plain `def`: FastAPI runs it in a worker thread, so a long turn does not block the loop.
        try:
            return _runtime(request).ask(body.content, conversation_id=conversation_id)
        except UnknownConversationError as error:
            detail = f"no conversation {conversation_id}; create one with POST /v1/conversations"
            raise HTTPException(404, detail) from error

    return app
