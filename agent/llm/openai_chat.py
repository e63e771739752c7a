"""Any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp server) as a langchain-core chat model.

The openai SDK does the protocol and the retries (429, 5xx, timeouts, connection errors; it honours
Retry-After and retry-after-ms). Structured output tries `json_schema`, falls back to `json_object` when
the server refuses it, and finally to plain text that the caller parses (fenced JSON). Token counts
come from the server's `usage`, streamed ones too (`stream_options.include_usage`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import openai
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, PrivateAttr

from agent.llm.capabilities import ModelCapabilities
from agent.llm.messages import stream_chunks, to_dicts, usage_chunk

READY_CACHE_SECONDS = 60.0


class ModelAccessError(Exception):
    """The server refused the key (401) or does not know the model (404): fix settings, retrying won't help."""


def _usage(usage: Any) -> UsageMetadata | None:
    if usage is None:
        return None
    prompt, completion = int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)
    return UsageMetadata(input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion)


class OpenAIChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: str
    base_url: str | None = None
    api_key: str | None = None
    temperature: float = 0.2
    max_tokens: int = 1024
    timeout_seconds: float = 60.0
    retries: int = 2
    context_tokens: int = 128_000
    _client: openai.OpenAI | None = PrivateAttr(default=None)
    _structured_mode: str = PrivateAttr(default="json_schema")
    _ready: tuple[float, bool, str] = PrivateAttr(default=(0.0, False, ""))
    _ready_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _last_failure: float = PrivateAttr(default=-1e9)

    @property
    def _llm_type(self) -> str:
        return "openai-compatible"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """What shapes the text it writes (the answer cache's key); never the API key."""
        return {"model": self.model, "base_url": self.base_url, "max_tokens": self.max_tokens,
                "temperature": self.temperature}

    @property
    def capabilities(self) -> ModelCapabilities:
        return ModelCapabilities(tool_calling=True, json_schema=True, context_tokens=self.context_tokens)

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            self._client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key or "not-needed",
                                         timeout=self.timeout_seconds, max_retries=self.retries)
        return self._client

    def ready(self) -> tuple[bool, str]:
        """Whether the server answered `GET /models` (checked at most once a minute) and no chat completion
        failed in the last minute (a server can list models and still fail to answer)."""
        if time.monotonic() - self._last_failure < READY_CACHE_SECONDS:
            return False, f"{self.base_url or 'OpenAI'}: a chat completion failed in the last minute"
        with self._ready_lock:
            checked, ok, detail = self._ready
            if time.monotonic() - checked < READY_CACHE_SECONDS:
                return ok, detail
            try:
                self.client.with_options(max_retries=0, timeout=5).models.list()
                ok, detail = True, f"{self.base_url or 'OpenAI'} answers"
            except Exception as error:  # an HTML page, a refused connection: all mean "not ready"
                ok, detail = False, f"{self.base_url or 'OpenAI'} does not answer: {error.__class__.__name__}"
            self._ready = (time.monotonic(), ok, detail)
            return ok, detail

    def bind_tools(self, tools: Sequence[dict | type | Callable | BaseTool], **kwargs: Any
                   ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _call(self, timeout_seconds: float | None = None, **request: Any) -> Any:
        """One completion. `timeout_seconds` (the turn's deadline) bounds it: the attempt's timeout shrinks to
        fit, and retries are given up when they could not finish in time."""
        client = self.client
        if timeout_seconds is not None and timeout_seconds < self.timeout_seconds * (self.retries + 1):
            client = client.with_options(timeout=min(self.timeout_seconds, timeout_seconds), max_retries=0)
        try:
            response = client.chat.completions.create(**request)
            self._last_failure = 0.0
            return response
        except openai.AuthenticationError as error:
            self._last_failure = time.monotonic()
            raise ModelAccessError(f"{self.base_url or 'OpenAI'} refused the API key (401): check "
                                   "OPENAI_API_KEY") from error
        except openai.NotFoundError as error:
            self._last_failure = time.monotonic()
            raise ModelAccessError(f"{self.base_url or 'OpenAI'} does not know the model {self.model!r} "
                                   "(404): check SCISYNTH_LLM") from error
        except openai.BadRequestError:
            raise  # a refused option (e.g. json_schema): the caller tries the next; the server itself is fine
        except Exception:
            self._last_failure = time.monotonic()
            raise

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict) -> dict:
        request = {"model": self.model, "messages": to_dicts(messages), "temperature": self.temperature,
                   "max_tokens": kwargs.get("max_tokens", self.max_tokens),
                   "timeout_seconds": kwargs.get("timeout_seconds")}
        if stop:
            request["stop"] = stop
        if kwargs.get("tools"):
            request["tools"] = kwargs["tools"]
        return request

    def _structured(self, request: dict, schema: dict) -> Any:
        """json_schema, then json_object, then plain text: a server that refuses one mode (HTTP 400) gets
        the next, and this model remembers the mode that worked."""
        formats = {"json_schema": {"type": "json_schema", "json_schema": {"name": schema.get("title", "output"),
                                                                          "schema": schema}},
                   "json_object": {"type": "json_object"}, "text": None}
        modes = list(formats)
        for mode in modes[modes.index(self._structured_mode):]:
            attempt = {**request, "response_format": formats[mode]} if formats[mode] else request
            try:
                return self._call(**attempt)
            except openai.BadRequestError:
                if mode == "text":
                    raise
                self._structured_mode = modes[modes.index(mode) + 1]
        raise AssertionError("unreachable: the text mode returns or raises")

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        """kwargs: `response_format` ({"type": "json_object", "schema": {...}}), `tools`, `max_tokens`."""
        request = self._request(messages, stop, kwargs)
        schema = (kwargs.get("response_format") or {}).get("schema")
        response = self._structured(request, schema) if schema else self._call(**request)
        choice = response.choices[0]
        tool_calls = [{"id": c.id, "name": c.function.name, "args": _arguments(c.function.arguments)}
                      for c in choice.message.tool_calls or []]
        message = AIMessage(content=choice.message.content or "", tool_calls=tool_calls,
                            usage_metadata=_usage(response.usage),
                            response_metadata={"finish_reason": choice.finish_reason, "model_name": self.model})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        stream = self._call(**self._request(messages, stop, kwargs), stream=True,
                            stream_options={"include_usage": True})
        usage: list[UsageMetadata] = []

        def pieces() -> Iterator[tuple[str, str | None]]:
            for part in stream:
                if part.usage is not None:
                    usage.append(_usage(part.usage))
                if part.choices:
                    yield part.choices[0].delta.content or "", part.choices[0].finish_reason

        try:
            yield from stream_chunks(pieces(), run_manager)
            yield usage_chunk(usage[-1] if usage else None, self.model)
        finally:
            stream.close()


def _arguments(raw: str | None) -> dict:
    """Tool-call arguments; a model that writes broken JSON gets an empty dict (the tool schema refuses it)."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {"__invalid_json__": (raw or "")[:200]}
    return value if isinstance(value, dict) else {"__invalid_json__": str(value)[:200]}
