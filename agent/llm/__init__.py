"""LLM providers, chosen by a spec string (`SCISYNTH_LLM`, `--llm`):

- `extractive`: no model; answers quote the best evidence sentences (deterministic)
- `llamacpp:/path/model.gguf`: llama.cpp in-process
- `hf:OWNER/REPO/FILE.gguf`: a GGUF from Hugging Face, downloaded once into the home folder's models/
- `openai:MODEL`: any OpenAI-compatible server (OPENAI_BASE_URL, OPENAI_API_KEY)
- `scripted:PATH` or `scripted:[...]`: replays responses (tests)
- `auto`: openai when OPENAI_API_KEY is set, else a GGUF already in models/, else extractive
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from langchain_core.language_models import BaseChatModel

from retrieval.search import Passage

log = logging.getLogger(__name__)
RECOMMENDED_GGUF = "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf"


class Composer(Protocol):
    """Writes an answer from numbered evidence passages, marking each claim with `[n]` (1-based).
    `stream` yields the text as it is written; `compose` returns it whole. `instructions` are the
    researcher's standing instructions (a system message), which a model-free composer cannot follow."""

    name: str

    def stream(self, question: str, passages: list[Passage], instructions: str = "") -> Iterator[str]: ...

    def compose(self, question: str, passages: list[Passage], instructions: str = "") -> str: ...

    def forget(self, question: str, passages: list[Passage], instructions: str = "") -> None:
        """The answer written to these arguments was rejected: never reuse it."""


@dataclass(frozen=True)
class ModelOptions:
    """How to run a local model, from Settings (tools and providers never read settings themselves)."""

    models_dir: Path
    context_tokens: int = 4096
    threads: int | None = None
    gpu_layers: int = 0
    chat_format: str = "gemma"
    max_tokens: int = 512
    timeout_seconds: float = 120.0
    retries: int = 2


class ModelSpecError(ValueError):
    """The LLM spec cannot be used; the message says how to fix it."""


def download_gguf(spec: str, models_dir: Path) -> Path:
    """`hf:OWNER/REPO/FILE.gguf` -> a local file, downloaded with huggingface_hub unless already there."""
    owner, repo, filename = [*spec.removeprefix("hf:").split("/", 2), "", ""][:3]
    if not (owner and repo and filename.endswith(".gguf")):
        raise ModelSpecError(f"{spec!r}: write hf:OWNER/REPO/FILE.gguf")
    target = models_dir / filename
    if target.is_file():
        return target
    from huggingface_hub import hf_hub_download

    try:
        # Bandit B615 (no revision pin) accepted: the user names repository and file, and a GGUF holds weights
        # as data (no pickle, no code), so an unpinned revision cannot run code here.
        return Path(hf_hub_download(repo_id=f"{owner}/{repo}", filename=filename, local_dir=models_dir))  # nosec B615
    except Exception as error:  # offline, unknown repo, disk: all end the same way for the user
        raise ModelSpecError(
            f"cannot download {filename} from huggingface.co/{owner}/{repo} ({error.__class__.__name__}). "
            f"Download it on a connected machine and place it at {target}, or use SCISYNTH_LLM=extractive") from error


def resolve_auto(models_dir: Path) -> str:
    if os.environ.get("OPENAI_API_KEY"):
        return "openai:gpt-4o-mini"
    local = sorted(models_dir.glob("*.gguf")) if models_dir.is_dir() else []
    if local:
        return f"llamacpp:{local[0]}"
    log.warning("no language model configured: answering in extractive mode (quotes from your papers). "
                "Run 'scisynth models pull' or set SCISYNTH_LLM to use a model.")
    return "extractive"


def load_chat_model(spec: str, options: ModelOptions) -> BaseChatModel | None:
    """The chat model for `spec`; None for `extractive`, which needs none."""
    if spec == "auto":
        spec = resolve_auto(options.models_dir)
    if spec == "extractive":
        return None
    if spec.startswith(("llamacpp:", "hf:")):
        from agent.llm.llamacpp import LlamaCppChatModel

        path = download_gguf(spec, options.models_dir) if spec.startswith("hf:") else Path(spec.split(":", 1)[1])
        if not path.is_file():
            raise ModelSpecError(f"no GGUF file at {path}")
        return LlamaCppChatModel(model_path=str(path), n_ctx=options.context_tokens, n_threads=options.threads,
                                 n_gpu_layers=options.gpu_layers, chat_format=options.chat_format,
                                 max_tokens=options.max_tokens, timeout_seconds=options.timeout_seconds)
    if spec.startswith("openai:"):
        from agent.llm.openai_chat import OpenAIChatModel

        return OpenAIChatModel(model=spec.split(":", 1)[1], base_url=os.environ.get("OPENAI_BASE_URL"),
                               api_key=os.environ.get("OPENAI_API_KEY"), timeout_seconds=options.timeout_seconds,
                               retries=options.retries, max_tokens=options.max_tokens)
    if spec.startswith("scripted:"):
        from agent.llm.scripted import ScriptedChatModel

        return ScriptedChatModel.from_spec(spec)
    raise ModelSpecError(f"unknown LLM spec {spec!r}: use extractive, llamacpp:PATH, hf:OWNER/REPO/FILE.gguf, "
                         "openai:MODEL or auto")
