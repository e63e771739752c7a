"""Latency of POST /v1/conversations/{id}/messages under concurrent clients, with the scripted provider
(so the model costs nothing and the numbers show the service: retrieval, evidence, citations, storage).

Run: python -m benchmarks.bench_api [--clients 50] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from agent.llm.chat_composer import ChatComposer
from agent.llm.scripted import ScriptedChatModel
from agent.runtime import build_runtime
from agent.settings import Settings
from api.app import create_app
from benchmarks.common import DATA, table

QUESTIONS = ["How does SPECTER use citations?", "What does the S2ORC corpus contain?",
             "How are entities linked in the Semantic Scholar literature graph?"]


async def _client(base: str, count: int, latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        conversation = (await client.post("/v1/conversations", json={})).json()["id"]
        for i in range(count):
            began = time.perf_counter()
            response = await client.post(f"/v1/conversations/{conversation}/messages",
                                         json={"content": QUESTIONS[i % len(QUESTIONS)]})
            response.raise_for_status()
            latencies.append(time.perf_counter() - began)


async def _load(base: str, clients: int, requests: int) -> list[float]:
    latencies: list[float] = []
    per_client = max(1, requests // clients)
    await asyncio.gather(*(_client(base, per_client, latencies) for _ in range(clients)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        model = ScriptedChatModel(responses=["SPECTER is trained with citations. [1]"], cycle=True)
        runtime = build_runtime(Settings(home=Path(home), use_arxiv=False), composer=ChatComposer(model))
        runtime.ingestor.ingest_paths(sorted((DATA / "papers").glob("*.pdf")))
        server = uvicorn.Server(uvicorn.Config(create_app(runtime=runtime), port=8765, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.1)
        began = time.perf_counter()
        latencies = sorted(asyncio.run(_load("http://127.0.0.1:8765", args.clients, args.requests)))
        wall = time.perf_counter() - began
        server.should_exit = True
    print(f"{len(latencies)} requests from {args.clients} concurrent clients in {wall:.1f} s\n")
    print(table(["p50 s", "p90 s", "p99 s", "mean s", "throughput req/s"], [[
        latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.9)],
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], statistics.mean(latencies),
        len(latencies) / wall]]))


if __name__ == "__main__":
    main()
