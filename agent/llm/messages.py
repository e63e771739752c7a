"""langchain-core messages to the OpenAI-style dicts that llama.cpp and OpenAI servers take."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGenerationChunk

_FENCED = re.compile(r"```(?:json)?\s*(\{.*?\}|\[.*?\])\s*```", re.DOTALL)


def to_dicts(messages: list[BaseMessage], fold_system: bool = False) -> list[dict]:
    """OpenAI chat messages. `fold_system` puts system text at the head of the first user turn, for chat
    formats (such as Gemma's) that have no system role and would otherwise drop it."""
    result: list[dict] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            result.append({"role": "system", "content": message.text})
        elif isinstance(message, HumanMessage):
            result.append({"role": "user", "content": message.text})
        elif isinstance(message, ToolMessage):
            result.append({"role": "tool", "content": message.text, "tool_call_id": message.tool_call_id})
        elif isinstance(message, AIMessage):
            entry: dict = {"role": "assistant", "content": message.text}
            if message.tool_calls:
                entry["tool_calls"] = [{"id": c["id"], "type": "function", "function": {
                    "name": c["name"], "arguments": json.dumps(c["args"])}} for c in message.tool_calls]
            result.append(entry)
    if not fold_system:
        return result
    system = "\n\n".join(m["content"] for m in result if m["role"] == "system")
    rest = [m for m in result if m["role"] != "system"]
    if system:
        first_user = next((m for m in rest if m["role"] == "user"), None)
        if first_user is None:
            rest.insert(0, {"role": "user", "content": system})
        else:
            first_user["content"] = f"{system}\n\n{first_user['content']}"
    return rest


def stream_chunks(pieces: Iterator[tuple[str, str | None]], run_manager: CallbackManagerForLLMRun | None
                  ) -> Iterator[ChatGenerationChunk]:
    """(text, finish reason) pairs from a provider's stream as LangChain chunks, reporting each token."""
    for text, finish in pieces:
        if not (text or finish):
            continue
        chunk = ChatGenerationChunk(message=AIMessageChunk(
            content=text, response_metadata={"finish_reason": finish} if finish else {}))
        if run_manager and text:
            run_manager.on_llm_new_token(text, chunk=chunk)
        yield chunk


def usage_chunk(usage: UsageMetadata | None, model_name: str) -> ChatGenerationChunk:
    """The last chunk of a stream: token usage and the model's name, which usage accounting reads (set once,
    here, because LangChain concatenates string metadata across chunks)."""
    return ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage,
                                                      response_metadata={"model_name": model_name}))


def parse_json(text: str) -> object:
    """JSON from a model reply: the whole reply, else a fenced ```json block, else the first {...} span."""
    for candidate in (text, *(m.group(1) for m in _FENCED.finditer(text))):
        try:
            return json.loads(candidate)
        except (json.JSONDecodeError, TypeError):
            continue
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        return json.loads(text[start:end + 1])
    raise ValueError(f"the model reply holds no JSON: {text[:200]!r}")
