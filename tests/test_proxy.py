"""Two `scisynth serve` replicas on one PostgreSQL + pgvector and one Redis, behind a real HAProxy (Debian's) running
deploy/haproxy.cfg with its addresses swapped for loopback ones: requests reach both replicas, an answer streams
through unbuffered, a replica killed with SIGKILL under traffic is out within seconds without a failed request
after that, a conversation started on it goes on through the other, and the replica restarted is back in. Then a
rolling restart (SIGTERM: each replica drains, stops and comes back, one after the other) under traffic fails no
request and cuts no answer short."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from retrieval.embeddings import Embedder
from tests.conftest import PAPERS, free_port, make_runtime, serve_process
from tests.postgres_server import new_database, running_postgres
from tests.proxy_server import running_proxy
from tests.redis_server import running_redis

DRAIN_SECONDS = 5  # as deploy/compose.yaml sets: longer than HAProxy's 2 failed checks a second apart


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[dict]:
    """Both replicas up behind the proxy; each test leaves them so."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    with running_postgres(tmp_path / "pg") as server, running_redis(tmp_path) as redis_url:
        shared = {"SCISYNTH_DATABASE_URL": new_database(server), "SCISYNTH_REDIS_URL": redis_url,
                  "SCISYNTH_RATE_LIMIT_PER_MINUTE": "1000000", "SCISYNTH_DRAIN_SECONDS": str(DRAIN_SECONDS),
                  "SCISYNTH_KEEP_ALIVE_SECONDS": "65", "SCISYNTH_TRUSTED_PROXIES": "127.0.0.1"}
        builder = make_runtime(tmp_path / "builder", embedder, database_url=shared["SCISYNTH_DATABASE_URL"])
        assert [r.status for r in builder.ingestor.ingest_paths([PAPERS / "acl_N18-3011.pdf"])] == ["added"]
        builder.engine.dispose()
        ports = {"api-1": free_port(), "api-2": free_port()}
        processes = {}
        try:
            for name, port in ports.items():
                processes[name], _ = serve_process(tmp_path / name, port=port, **shared)
            with running_proxy(tmp_path, ports) as base:
                _until(lambda: {_served_by(base) for _ in range(6)} == {"api-1", "api-2"}, 30, "both replicas up")
                yield {"base": base, "ports": ports, "processes": processes, "shared": shared, "home": tmp_path}
        finally:
            for process in processes.values():
                process.kill()
                process.wait(timeout=30)


def _served_by(base: str) -> str | None:
    try:
        response = httpx.get(f"{base}/v1/papers", timeout=5)
    except httpx.TransportError:
        return None
    return response.headers.get("x-served-by") if response.status_code == 200 else None


def _until(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.2)


class Traffic:
    """Threads sending requests through the proxy until the block ends: `searches` loops of searches, and with
    `conversation` one loop of streamed questions there. Each request is recorded as (when it was answered,
    status or 0 for a broken connection, the replica that served it); a streamed answer that ends without its
    "done" event counts as status 0."""

    def __init__(self, base: str, results: list[tuple[float, int, str | None]], searches: int,
                 conversation: str | None = None) -> None:
        self.base, self.results, self.stop = base, results, threading.Event()
        self.threads = [threading.Thread(target=self._search) for _ in range(searches)]
        if conversation:
            self.threads.append(threading.Thread(target=self._converse, args=(conversation,)))

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def _search(self) -> None:
        while not self.stop.is_set():
            try:
                response = httpx.get(f"{self.base}/v1/search", params={"q": "citation graph", "k": 3}, timeout=10)
                self.results.append((time.monotonic(), response.status_code, response.headers.get("x-served-by")))
            except httpx.TransportError:
                self.results.append((time.monotonic(), 0, None))
            time.sleep(0.05)

    def _converse(self, conversation: str) -> None:
        turn = 0
        while not self.stop.is_set():
            turn += 1
            try:
                events = _ask(self.base, conversation, f"How is the literature graph built? ({turn})")
                self.results.append((time.monotonic(), 200 if events[-1][1] == "done" else 0, "stream"))
            except (httpx.TransportError, AssertionError):
                self.results.append((time.monotonic(), 0, "stream"))


def _ask(base: str, conversation: str, question: str) -> list[tuple[float, str]]:
    """A turn streamed through the proxy: (seconds since the request, event name) as each event arrives."""
    started, events = time.monotonic(), []
    with httpx.stream("POST", f"{base}/v1/conversations/{conversation}/messages", json={"content": question},
                      headers={"Accept": "text/event-stream"}, timeout=120) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                events.append((time.monotonic() - started, line.removeprefix("event: ")))
    return events


def test_a_replica_killed_under_traffic_is_out_in_seconds_and_nothing_is_lost(cluster: dict) -> None:
    base = cluster["base"]
    first = _ask(base, "lab-1", "How are papers linked in the literature graph?")
    names = [name for _, name in first]
    assert names[0] == "status" and names[-1] == "done"
    assert first[0][0] < first[-1][0]  # the first event arrived before the answer was done: not buffered

    results: list[tuple[float, int, str | None]] = []
    with Traffic(base, results, searches=3) as workers:
        time.sleep(2)
        killed_at = time.monotonic()
        cluster["processes"]["api-1"].send_signal(signal.SIGKILL)
        time.sleep(8)
    before = [r for r in results if r[0] < killed_at]
    during = [r for r in results if killed_at <= r[0] < killed_at + 3]
    after = [r for r in results if r[0] >= killed_at + 3]
    assert {served for _, _, served in before} == {"api-1", "api-2"}
    failed_during = sum(status != 200 for _, status, _ in during)
    # only a request in flight on the replica when it died may fail (reported to its client, not resent): at most
    # one per traffic loop; a request sent after the kill is never lost
    assert failed_during <= len(workers.threads), f"{failed_during} of {len(during)} failed after the kill"
    assert after and all(status == 200 and served == "api-2" for _, status, served in after), after[:5]

    # the conversation goes on through the other replica, whole
    again = _ask(base, "lab-1", "And which entities does it link?")
    assert again[-1][1] == "done"
    conversation = httpx.get(f"{base}/v1/conversations/lab-1", timeout=10).json()
    assert [m["role"] for m in conversation["messages"]] == ["user", "assistant"] * 2

    # the replica restarted on its address is sent requests again
    cluster["processes"]["api-1"], _ = serve_process(cluster["home"] / "api-1", port=cluster["ports"]["api-1"],
                                                      **cluster["shared"])
    _until(lambda: "api-1" in {_served_by(base) for _ in range(6)}, 30, "the restarted replica back in")


def test_a_rolling_restart_under_traffic_fails_no_request(cluster: dict) -> None:
    """Each replica in turn gets SIGTERM (as compose or Kubernetes stop it), drains, stops, and is started again
    before the next goes: every request and every streamed answer meanwhile succeeds."""
    base, processes = cluster["base"], cluster["processes"]
    results: list[tuple[float, int, str | None]] = []
    with Traffic(base, results, searches=3, conversation="rolling"):
        for name, port in cluster["ports"].items():
            processes[name].terminate()
            assert processes[name].wait(timeout=60) in (0, -signal.SIGTERM)  # drained, stopped on its own
            processes[name], _ = serve_process(cluster["home"] / name, port=port, **cluster["shared"])
            _until(lambda name=name: name in {_served_by(base) for _ in range(6)}, 30, f"{name} back in")
    failed = [r for r in results if r[1] != 200]
    streamed = [r for r in results if r[2] == "stream"]
    assert len(results) > 50 and len(streamed) >= 2, (len(results), len(streamed))
    assert not failed, f"{len(failed)} of {len(results)} failed: {failed[:5]}"
    roles = [m["role"] for m in httpx.get(f"{base}/v1/conversations/rolling", timeout=10).json()["messages"]]
    assert roles == ["user", "assistant"] * len(streamed)  # no question left without its answer
