"""llama.cpp in-process (llama-cpp-python) as a langchain-core chat model.

One model instance per file per process, guarded by a lock (llama.cpp is not thread-safe). Generation
streams token by token, so a caller that stops reading, sets `cancel`, or runs past `timeout_seconds`
stops the model at the next token. llama-cpp-python keeps the previous prompt's KV cache and evaluates
only the new suffix, so the turns of one conversation reuse their shared prefix.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from agent.llm.capabilities import ModelCapabilities
from agent.llm.messages import stream_chunks, to_dicts, usage_chunk

_ENGINES: dict[tuple, tuple[Any, threading.Lock]] = {}
_ENGINES_LOCK = threading.Lock()


@atexit.register
def _close_engines() -> None:
    """Free models before the interpreter tears down the C library they need (avoids noisy __del__ errors)."""
    with _ENGINES_LOCK:
        for engine, _ in _ENGINES.values():
            engine.close()
        _ENGINES.clear()


class ModelLoadError(Exception):
    """The model file could not be loaded; the message says which and what to do."""


def shared_engine(path: str, n_ctx: int, n_threads: int | None, n_gpu_layers: int, chat_format: str
                  ) -> tuple[Any, threading.Lock]:
    """The process-wide llama.cpp instance for these settings, loaded on first use."""
    key = (path, n_ctx, n_threads, n_gpu_layers, chat_format)
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            from llama_cpp import Llama

            if not Path(path).is_file():
                raise ModelLoadError(f"no model file at {path}; set SCISYNTH_LLM=llamacpp:/path/to/model.gguf")
            probe = Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers,
                          verbose=False, chat_format=None)
            # The GGUF's own chat template when it has one; the configured format otherwise.
            if not probe.metadata.get("tokenizer.chat_template"):
                from llama_cpp import llama_chat_format

                probe.chat_format = chat_format
                probe.chat_handler = llama_chat_format.get_chat_completion_handler(chat_format)
            _ENGINES[key] = (probe, threading.Lock())
        return _ENGINES[key]


class LlamaCppChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    n_gpu_layers: int = 0
    chat_format: str = "gemma"
    max_tokens: int = 512
    temperature: float = 0.2
    timeout_seconds: float = 120.0

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """What shapes the text it writes (the answer cache's key): the weights file (its size and modification
        time too, so a file replaced at the same path is another model) and the sampling settings."""
        weights = Path(self.model_path).resolve()
        stat = weights.stat() if weights.is_file() else None
        return {"model_path": str(weights), "model_file": f"{stat.st_size}:{stat.st_mtime_ns}" if stat else "",
                "n_ctx": self.n_ctx, "chat_format": self.chat_format, "max_tokens": self.max_tokens,
                "temperature": self.temperature}

    @property
    def capabilities(self) -> ModelCapabilities:
        return ModelCapabilities(tool_calling=False, json_schema=True, context_tokens=self.n_ctx)

    def _engine(self) -> tuple[Any, threading.Lock]:
        return shared_engine(self.model_path, self.n_ctx, self.n_threads, self.n_gpu_layers, self.chat_format)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        """Tokens as they come. kwargs: `response_format` (JSON schema), `cancel` (threading.Event),
        `max_tokens`, `timeout_seconds`."""
        engine, lock = self._engine()
        cancel: threading.Event | None = kwargs.pop("cancel", None)
        deadline = time.monotonic() + kwargs.pop("timeout_seconds", self.timeout_seconds)
        request = {"messages": to_dicts(messages, fold_system=engine.chat_format == "gemma"),
                   "max_tokens": kwargs.pop("max_tokens", self.max_tokens), "temperature": self.temperature,
                   "stop": stop, "stream": True}
        if kwargs.get("response_format"):
            request["response_format"] = kwargs["response_format"]
        with lock:
            stream = engine.create_chat_completion(**request)
            def pieces() -> Iterator[tuple[str, str | None]]:
                for part in stream:
                    if (cancel is not None and cancel.is_set()) or time.monotonic() > deadline:
                        return
                    choice = part["choices"][0]
                    yield choice["delta"].get("content") or "", choice.get("finish_reason")

            text = ""
            try:
                for chunk in stream_chunks(pieces(), run_manager):
                    text += chunk.message.text
                    yield chunk
                yield usage_chunk(_usage(engine, text), "llamacpp:" + Path(self.model_path).name)
            finally:
                stream.close()  # stops llama.cpp generating when the consumer went away

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        merged = None
        for chunk in self._stream(messages, stop, run_manager, **kwargs):
            merged = chunk.message if merged is None else merged + chunk.message
        finish = merged.response_metadata.get("finish_reason") if merged is not None else None
        message = AIMessage(content=merged.text if merged is not None else "",
                            usage_metadata=merged.usage_metadata if merged is not None else None,
                            response_metadata={"finish_reason": finish or "stopped",
                                               "model_name": "llamacpp:" + Path(self.model_path).name})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def ready(self) -> tuple[bool, str]:
        """Ready once the model file is loaded (loading it now if needed)."""
        try:
            self._engine()
        except Exception as error:  # a missing or unreadable GGUF
            return False, f"cannot load {Path(self.model_path).name}: {error.__class__.__name__}"
        return True, f"{Path(self.model_path).name} loaded"


def _usage(engine: Any, completion: str) -> UsageMetadata:
    """Token counts by the model's own tokenizer: the completion's tokens, and the rest of the context
    llama.cpp just evaluated as the prompt."""
    output = len(engine.tokenize(completion.encode("utf-8"), add_bos=False, special=True)) if completion else 0
    prompt = max(0, int(engine.n_tokens) - output)
    return UsageMetadata(input_tokens=prompt, output_tokens=output, total_tokens=prompt + output)
