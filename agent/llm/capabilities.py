"""What a model can do; the agent reads it to choose its tool-calling loop or its fixed pipeline."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelCapabilities:
    tool_calling: bool
    json_schema: bool
    context_tokens: int
    streaming: bool = True

    @property
    def drives_tools(self) -> bool:
        """Capable enough to pick its own tools; otherwise the fixed pipeline runs."""
        return self.tool_calling and self.context_tokens >= 8192
