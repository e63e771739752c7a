"""A chat model for tests: replays given responses in order and records every prompt it was sent."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import Field

from agent.llm.capabilities import ModelCapabilities


class ScriptExhaustedError(Exception):
    """The script has no response left for this call."""


class ScriptedChatModel(BaseChatModel):
    """Each response is a string, or a dict {"content": ..., "tool_calls": [{"name", "args"}]}."""

    responses: list[str | dict]
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    tool_calling: bool = False
    cycle: bool = False  # start over when the script runs out (load tests), instead of failing

    @classmethod
    def from_spec(cls, spec: str) -> ScriptedChatModel:
        """`scripted:PATH` (a JSON list of responses) or `scripted:[...]` (the list inline)."""
        body = spec.removeprefix("scripted:")
        return cls(responses=json.loads(body if body.lstrip().startswith("[") else Path(body).read_text()))

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def capabilities(self) -> ModelCapabilities:
        return ModelCapabilities(tool_calling=self.tool_calling, json_schema=True, context_tokens=32_768)

    def ready(self) -> tuple[bool, str]:
        return True, "scripted responses"

    def bind_tools(self, tools: Sequence[dict | type | Callable | BaseTool], **kwargs: Any
                   ) -> Runnable[LanguageModelInput, AIMessage]:
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.prompts.append(list(messages))
        if len(self.prompts) > len(self.responses) and not self.cycle:
            raise ScriptExhaustedError(f"call {len(self.prompts)} but only {len(self.responses)} responses")
        response = self.responses[(len(self.prompts) - 1) % len(self.responses)]
        if isinstance(response, str):
            message = AIMessage(content=response, response_metadata={"model_name": "scripted"})
        else:
            calls = [{"id": f"call_{len(self.prompts)}_{i}", "name": c["name"], "args": c.get("args", {})}
                     for i, c in enumerate(response.get("tool_calls", []))]
            message = AIMessage(content=response.get("content", ""), tool_calls=calls,
                                response_metadata={"model_name": "scripted"})
        return ChatResult(generations=[ChatGeneration(message=message)])
