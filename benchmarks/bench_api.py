"""What a research turn costs, on a library of 2,265 arXiv abstracts + the 3 shared PDFs, extractive (no model):

- CPU seconds per turn, beside the work a question must do (query encoding, FAISS and BM25 search) in the
  same run;
- warm turn latency with one client, and throughput with 50 concurrent clients, through `scisynth serve`
  (its CPU read from /proc, so the clients' own work is not counted);
- ingest throughput against the raw encoder on the very texts ingest embedded.

Prints the issue-16 table: the figures measured before that work beside this run's. The library is built
once in .bench-home (minutes; later runs reuse it).

Run: python -m benchmarks.bench_api [--clients 50] [--requests 400] [--turns 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from agent.turn import TurnRequest
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.report import show, table
from retrieval.embeddings import Embedder, load_embedder
from service.turns import TurnService

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".bench-home"
ABSTRACTS = DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl"
PORT = 8766
BASE = f"http://127.0.0.1:{PORT}"
PDF_QUESTIONS = ["How does SPECTER use citations?", "What does the S2ORC corpus contain?",
                 "How are entities linked in the Semantic Scholar literature graph?"]
# Issue 16's measurements before this work (scripted model, 50 clients, 3 PDFs): the "before" column.
BEFORE = {"cpu": "~0.9", "p50": "not measured", "throughput": "1.08", "ratio": "~30x", "ingest": "not printed"}
GOALS = {"cpu": "<= 0.08", "p50": "<= 0.150", "throughput": ">= 15, 0 errors", "ratio": "<= 3x", "ingest": ">= 0.85"}


def _settings(home: Path) -> Settings:
    return Settings(home=home, llm="extractive", use_arxiv=False)


def questions() -> list[str]:
    """Distinct questions (no cache answers a repeat): the PDFs' own, then one per abstract title."""
    titles = [json.loads(line)["title"] for line in ABSTRACTS.open()]
    return PDF_QUESTIONS + [f"What is known about {' '.join(t.split()).rstrip('.').lower()}?" for t in titles]


def library() -> Runtime:
    runtime = build_runtime(_settings(HOME))
    if runtime.catalog.paper_count() < 2_265:
        print("building the benchmark library in .bench-home (once)...", file=sys.stderr, flush=True)
        runtime.ingestor.ingest_paths([ABSTRACTS, *sorted((DATA / "papers").glob("*.pdf"))])
    return runtime


def cpu_per_turn(runtime: Runtime, asked: list[str], searched: list[str]) -> tuple[float, float]:
    """Mean CPU seconds of an in-process turn, and of query encoding + hybrid search (FAISS and BM25) on
    other questions (so neither reuses the other's cached query vector)."""
    turns = TurnService(runtime)
    turns.run(TurnRequest(question=asked[0]))  # warm-up
    began = time.process_time()
    for question in asked[1:]:
        turns.run(TurnRequest(question=question))
    turn = (time.process_time() - began) / (len(asked) - 1)
    began = time.process_time()
    for question in searched:
        runtime.searcher.ranked_ids(question, runtime.settings.answer.evidence_k)
    return turn, (time.process_time() - began) / len(searched)


def _lock_waits() -> dict[str, float]:
    """The server's seconds waited per shared lock, from its Prometheus metrics."""
    text = httpx.get(f"{BASE}/metrics", timeout=10).text
    return {line.split('"')[1]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("scisynth_lock_wait_seconds_total{")}


def _server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _conversation(clients: list[httpx.AsyncClient], asked: list[str], latencies: list[float],
                        errors: list[str]) -> None:
    """One conversation; with several replicas each turn goes to the next one (a load balancer without stickiness),
    so every turn after the first continues a conversation another replica began."""
    conversation = (await clients[0].post("/v1/conversations", json={})).json()["id"]
    for turn, question in enumerate(asked):
        began = time.perf_counter()
        response = await clients[(turn + 1) % len(clients)].post(f"/v1/conversations/{conversation}/messages",
                                                                 json={"content": question})
        if response.status_code == 200:
            latencies.append(time.perf_counter() - began)
        else:
            errors.append(f"{response.status_code} {response.text[:120]}")


async def load(bases: list[str], per_client: list[list[str]]) -> tuple[list[float], list[str], float]:
    """(turn latencies, errors, wall seconds) of one conversation per entry of `per_client`, all at once, spread
    over the replicas at `bases`."""
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=len(per_client) + 5)
    clients = [httpx.AsyncClient(base_url=base, timeout=600, limits=limits) for base in bases]
    try:
        began = time.perf_counter()
        await asyncio.gather(*(_conversation(clients, asked, latencies, errors) for asked in per_client))
        return latencies, errors, time.perf_counter() - began
    finally:
        for client in clients:
            await client.aclose()


def served(asked_single: list[str], asked_load: list[str], clients: int) -> dict[str, object]:
    """Warm p50 with one client, then `clients` concurrent conversations, against `scisynth serve`."""
    env = {**os.environ, "SCISYNTH_HOME": str(HOME), "SCISYNTH_LLM": "extractive", "SCISYNTH_USE_ARXIV": "false",
           "SCISYNTH_RATE_LIMIT_PER_MINUTE": "1000000"}
    server = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(PORT)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{BASE}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        single, errors, _ = asyncio.run(load([BASE], [asked_single]))
        cpu_before, waits_before = _server_cpu(server.pid), _lock_waits()
        per_client = [asked_load[i::clients] for i in range(clients)]
        latencies, load_errors, wall = asyncio.run(load([BASE], per_client))
        cpu = (_server_cpu(server.pid) - cpu_before) / max(1, len(latencies))
        waits = {name: seconds - waits_before.get(name, 0.0) for name, seconds in _lock_waits().items()}
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"p50": statistics.median(single[1:]), "latencies": sorted(latencies), "errors": errors + load_errors,
            "wall": wall, "server_cpu": cpu, "lock_waits": waits}


class _Recording:
    """An embedder that remembers each call's texts, so the raw encoder can be timed on the same batches."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.calls = inner, []
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def ingest_ratio(count: int) -> tuple[float, float, int]:
    """Raw-encoder seconds / ingest seconds on `count` abstracts ingested into an empty library."""
    recording = _Recording(load_embedder("minilm"))
    with tempfile.TemporaryDirectory() as home:
        sample = Path(home) / "sample.jsonl"
        sample.write_text("".join(ABSTRACTS.open().readlines()[:count]))
        runtime = build_runtime(_settings(Path(home) / "library"), embedder=recording)
        recording.inner.embed(["warm-up"])
        began = time.perf_counter()
        runtime.ingestor.ingest_paths([sample])
        ingest_seconds = time.perf_counter() - began
    began = time.perf_counter()
    for texts in recording.calls:
        recording.inner.embed(texts)
    raw_seconds = time.perf_counter() - began
    return raw_seconds / ingest_seconds, ingest_seconds, sum(map(len, recording.calls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent conversations (default: 50)")
    parser.add_argument("--requests", type=int, default=400, help="turns in the concurrent run (default: 400)")
    parser.add_argument("--turns", type=int, default=40, help="turns for CPU and single-client figures (default: 40)")
    parser.add_argument("--ingest", type=int, default=300, help="abstracts for the ingest ratio (default: 300)")
    args = parser.parse_args()
    pool = questions()
    runtime = library()
    papers = runtime.catalog.paper_count()
    turn_cpu, search_cpu = cpu_per_turn(runtime, pool[:args.turns], pool[args.turns:2 * args.turns])
    ratio, ingest_seconds, texts = ingest_ratio(args.ingest)
    start = 2 * args.turns
    serve = served(pool[start:start + args.turns], pool[start + args.turns:start + args.turns + args.requests],
                   args.clients)
    latencies = serve["latencies"]
    throughput = len(latencies) / serve["wall"]
    print(f"library: {papers} papers; extractive turns; 2 cores; {len(latencies)} turns from {args.clients} "
          f"clients in {serve['wall']:.1f} s; ingest of {args.ingest} abstracts embedded {texts} texts in "
          f"{ingest_seconds:.1f} s\n")
    show(["figure", "before (issue 16)", "goal", "now"], [
        ["CPU s per turn (in process)", BEFORE["cpu"], GOALS["cpu"], turn_cpu],
        ["CPU s per turn (server, under load)", "", "", serve["server_cpu"]],
        ["warm turn latency, 1 client, p50 s", BEFORE["p50"], GOALS["p50"], serve["p50"]],
        [f"throughput, {args.clients} clients, turns/s", BEFORE["throughput"], GOALS["throughput"],
         f"{throughput:.2f}, {len(serve['errors'])} errors"],
        ["per-turn CPU / (query encoding + searches)", BEFORE["ratio"], GOALS["ratio"],
         f"{turn_cpu / search_cpu:.1f}x ({search_cpu * 1000:.0f} ms)"],
        ["ingest throughput / raw encoder", BEFORE["ingest"], GOALS["ingest"], ratio],
    ])
    print("\n" + table(["p50 s", "p90 s", "p99 s", "mean s"], [[
        latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.9)],
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], statistics.mean(latencies)]]))
    turns = max(1, len(latencies))
    print(f"\nLock waits during the {args.clients}-client run (summed over threads; a turn's wall time is "
          f"{statistics.mean(latencies) * 1000:.0f} ms on average)\n")
    show(["lock", "waited s", "ms per turn"], [[name, seconds, seconds * 1000 / turns]
                                                     for name, seconds in sorted(serve["lock_waits"].items())])
    for error in serve["errors"][:5]:
        print("error:", error)


if __name__ == "__main__":
    main()
