"""Shared fixtures: the real embedding model (loaded once) and a library of the three real PDFs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from agent.turn import TurnRequest
from retrieval.embeddings import Embedder, SentenceTransformerEmbedder
from service.turns import TurnService

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PAPERS = DATA / "papers"
# One embedding cache (and ONNX query encoder) for every test, xdist worker and `scisynth` subprocess: the same
# papers are ingested by many tests, and their vectors are the model's either way (a cache is keyed by model and
# text). Kept between local runs; a clean clone (CI) starts it empty.
TEST_CACHE = ROOT / ".test-cache"


# Files that take minutes run first, longest first: under `make test` (pytest-xdist, a file per worker) a long file
# handed out last keeps one core busy after the others are done (measured with --durations on 2 cores).
# test_load.py leads: minutes of simulated researchers thinking, little CPU, so the other worker gets on meanwhile.
LONGEST_FIRST = ("test_load.py", "test_ray_ingest.py", "test_cli.py", "test_agent.py", "test_training.py",
                 "test_security.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the other files keep their order


def pytest_configure(config: pytest.Config) -> None:
    # Shared data is part of the test environment (CI lays it beside the clone): a missing folder is
    # an error to report, not a reason to skip tests.
    if not PAPERS.is_dir():
        raise pytest.UsageError(f"shared test data not found at {DATA}: check out ../shared beside the project")
    os.environ.setdefault("SCISYNTH_CACHE", str(TEST_CACHE))


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return SentenceTransformerEmbedder(cache_dir=TEST_CACHE)


def make_runtime(home: Path, embedder: Embedder, reset_index: bool = False, **settings: object) -> Runtime:
    """A runtime on a temporary home. arXiv is off unless a test turns it on against its replay server:
    tests never reach beyond 127.0.0.1."""
    settings = {"llm": "extractive", "use_arxiv": False, **settings}
    return build_runtime(Settings(home=home, **settings), embedder=embedder, reset_index=reset_index)


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Runtime]:
    """A runtime whose library holds the three real PDFs of ../shared/data/papers."""
    runtime = make_runtime(tmp_path_factory.mktemp("library"), embedder)
    results = runtime.ingestor.ingest_paths(sorted(PAPERS.glob("*.pdf")))
    assert [r.status for r in results] == ["added"] * 3
    yield runtime
    runtime.engine.dispose()


def ask(runtime: Runtime, question: str, conversation_id: str | None = None, mode: str = "ask", n: int = 3) -> dict:
    """One turn through the turn service, as a dict (the `ask --json` shape); a conversation id that does not exist
    yet starts that conversation, as `scisynth ask --conversation ID` does."""
    if conversation_id is not None:
        runtime.conversations.ensure(conversation_id, question)
    request = TurnRequest(question=question, mode=mode, n=n, conversation_id=conversation_id)
    return TurnService(runtime).run(request).model_dump()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(app: object, **config: object) -> Iterator[str]:
    """A real uvicorn server for `app` on a free loopback port (`config`: more uvicorn settings); yields its base
    URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def serve_process(home: Path, port: int | None = None, **env: str) -> tuple[subprocess.Popen, str]:
    """`scisynth serve` in its own process (on `port`, default a free one), its log appended to HOME/serve.log (a
    pipe nobody reads would fill under load and stall the server); returns it and its base URL once /healthz
    answers. SIGTERM stops it at once unless SCISYNTH_DRAIN_SECONDS is given."""
    port = port or free_port()
    environment = {**os.environ, "SCISYNTH_HOME": str(home), "SCISYNTH_LLM": "extractive",
                   "SCISYNTH_USE_ARXIV": "false", "SCISYNTH_DRAIN_SECONDS": "0", **env}
    home.mkdir(parents=True, exist_ok=True)
    log = home / "serve.log"
    with log.open("ab") as output:
        server = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(port)], env=environment,
                                  cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        assert server.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(0.5)


def finished_job(client: TestClient, job: dict) -> dict:
    """Poll a job the API accepted until it is done or failed."""
    for _ in range(600):
        state = client.get(f"/v1/jobs/{job['id']}").json()
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job['id']} did not finish")
