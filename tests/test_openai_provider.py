"""The OpenAI-compatible provider against a real chat-completions HTTP server on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from agent.llm.messages import parse_json
from agent.llm.openai_chat import ModelAccessError, OpenAIChatModel
from tests.openai_server import ChatServer, Reply, completion, error


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as chat:
        yield chat


def model(server: ChatServer, **options: object) -> OpenAIChatModel:
    return OpenAIChatModel(model="test-model", base_url=server.base_url, api_key="k", retries=2, **options)


def test_plain_and_streaming(server: ChatServer) -> None:
    server.replies = [Reply(body=completion("Mitochondria make ATP [1].")), Reply(stream=["Mito", "chondria", "."])]
    reply = model(server).invoke([HumanMessage("What do mitochondria do?")])
    assert reply.content == "Mitochondria make ATP [1]."
    assert reply.usage_metadata == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    chunks = list(model(server).stream("again"))
    assert [c.content for c in chunks if c.content] == ["Mito", "chondria", "."]
    assert sum(chunks[1:], chunks[0]).usage_metadata["output_tokens"] == 5  # streamed usage (include_usage)
    assert server.requests[1]["stream_options"] == {"include_usage": True}
    assert server.requests[0]["messages"] == [{"role": "user", "content": "What do mitochondria do?"}]


class Plan(BaseModel):
    queries: list[str]


def test_json_schema_refused_falls_back_to_json_object_then_fenced(server: ChatServer) -> None:
    chat = model(server)
    schema = {"type": "json_object", "schema": Plan.model_json_schema()}
    server.replies = [error(400, "response_format json_schema is not supported"),
                      Reply(body=completion('{"queries": ["crispr off-target"]}'))]
    first = chat.invoke("plan", response_format=schema)
    assert Plan.model_validate(parse_json(first.content)).queries == ["crispr off-target"]
    assert server.requests[0]["response_format"]["type"] == "json_schema"
    assert server.requests[1]["response_format"] == {"type": "json_object"}
    server.replies = [error(400, "json_object not supported either"),
                      Reply(body=completion('Sure:\n```json\n{"queries": ["a", "b"]}\n```'))]
    second = chat.invoke("plan", response_format=schema)
    assert "response_format" not in server.requests[3]
    assert Plan.model_validate(parse_json(second.content)).queries == ["a", "b"]


def test_tool_calls(server: ChatServer) -> None:
    def search_library(query: str) -> str:
        """Find passages in the local library."""
        return query

    server.replies = [Reply(body=completion(tool_calls=[{"name": "search_library", "args": {"query": "p53"}}]))]
    reply = model(server).bind_tools([search_library]).invoke("find p53 papers")
    assert reply.tool_calls[0]["name"] == "search_library" and reply.tool_calls[0]["args"] == {"query": "p53"}
    assert server.requests[0]["tools"][0]["function"]["name"] == "search_library"


def test_429_then_success_honours_retry_after(server: ChatServer) -> None:
    server.replies = [Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "1"}),
                      Reply(body=completion("ok"))]
    started = time.monotonic()
    assert model(server).invoke("hi").content == "ok"
    assert time.monotonic() - started >= 0.95


def test_500_forever_gives_up(server: ChatServer) -> None:
    server.replies = [Reply(500, {"error": {"message": "boom"}})] * 3
    with pytest.raises(openai.InternalServerError):
        model(server).invoke("hi")
    assert len(server.requests) == 3


def test_401_and_404_are_clear(server: ChatServer) -> None:
    server.replies = [error(401, "bad key")]
    with pytest.raises(ModelAccessError, match="OPENAI_API_KEY"):
        model(server).invoke("hi")
    server.replies = [error(404, "no such model")]
    with pytest.raises(ModelAccessError, match="does not know the model 'test-model'"):
        model(server).invoke("hi")
    assert len(server.requests) == 2  # neither is retried


def test_parse_json_variants() -> None:
    assert parse_json('{"a": 1}') == {"a": 1}
    assert parse_json('Here:\n```json\n{"a": 2}\n```') == {"a": 2}
    assert parse_json('noise {"a": 3} trailing') == {"a": 3}
    with pytest.raises(ValueError, match="no JSON"):
        parse_json("no json here")
