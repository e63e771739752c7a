"""LLM providers, chosen by a spec string (`SCISYNTH_LLM`, `--llm`)."""

from __future__ import annotations

import logging
from typing import Protocol

from retrieval.embeddings import Embedder
from retrieval.search import Passage

log = logging.getLogger(__name__)


class Composer(Protocol):
    """Writes an answer from numbered evidence passages, marking each claim with `[n]` (1-based)."""

    name: str

    def compose(self, question: str, passages: list[Passage]) -> str: ...


def load_composer(spec: str, embedder: Embedder) -> Composer:
    """Build the provider named by `spec`. `auto` falls back to `extractive` when no model is set up."""
    from agent.llm.extractive import ExtractiveComposer

    if spec == "auto":
        log.info("no language model configured: using the extractive provider (answers quote the sources); "
                 "set SCISYNTH_LLM=llamacpp:/path/model.gguf or OPENAI_API_KEY to use a model")
        return ExtractiveComposer(embedder)
    if spec == "extractive":
        return ExtractiveComposer(embedder)
    raise ValueError(f"unknown LLM spec {spec!r}: this build supports 'auto' and 'extractive'")
