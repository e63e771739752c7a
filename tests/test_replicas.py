"""What several API replicas share. Rate limits: with SCISYNTH_REDIS_URL every replica counts a key's requests in
one window in a real Redis, so a key cannot multiply its rate by the number of replicas; without it each process
counts alone. Redis failing or hanging leaves each replica counting alone for a while (logged): it neither takes
the API down nor turns the limits off. Jobs: any replica runs any job it may (leases in the shared database), a
dead replica's jobs are taken over, a live one's are left alone."""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from agent.runtime import Runtime, build_runtime
from api.app import create_app
from store.engine import make_engine
from store.jobs import MAX_ATTEMPTS, JobQueue, JobRow, replica_name
from tests.conftest import PAPERS, running_server, serve_process
from tests.postgres_server import new_database, running_postgres
from tests.redis_server import running_redis

LIMIT = 6


def _statuses(library: Runtime, redis_url: str, key: str = "lab-key", rounds: int = 4) -> list[int]:
    """Alternate one key's requests between two replicas (two servers, each with its own app and limiter)."""
    settings = library.settings.with_changes(api_keys="lab-key,other-key", redis_url=redis_url,
                                             rate_limit_per_minute=LIMIT)
    runtime = build_runtime(settings, embedder=library.embedder)
    with running_server(create_app(runtime=runtime)) as one, running_server(create_app(runtime=runtime)) as two:
        headers = {"Authorization": f"Bearer {key}"}
        responses = [httpx.get(f"{url}/v1/models", headers=headers, timeout=30) for url in (one, two) * rounds]
        if redis_url:
            other = httpx.get(f"{two}/v1/models", headers={"Authorization": "Bearer other-key"}, timeout=30)
            assert other.status_code == 200  # another key has its own window
            assert all(int(r.headers["Retry-After"]) >= 1 for r in responses if r.status_code == 429)
    return [r.status_code for r in responses]


def test_replicas_share_one_rate_limit_through_redis(library: Runtime, tmp_path: Path) -> None:
    assert _statuses(library, "") == [200] * 8  # in memory: each replica lets the key make LIMIT requests
    with running_redis(tmp_path) as url:
        assert _statuses(library, url) == [200] * LIMIT + [429] * 2


def test_an_unreachable_redis_leaves_each_replica_counting_alone(library: Runtime, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with running_redis(tmp_path) as url:
        pass  # started and stopped: nothing listens on its port now
    with caplog.at_level(logging.ERROR, logger="api.rate_limits"):
        assert _statuses(library, url) == [200] * 8  # served, each replica counting its own 4 requests
    assert "rate-limit storage failed" in caplog.text


def test_a_hung_redis_costs_a_request_little_and_limits_stay_on() -> None:
    """A Redis that accepts connections and never answers: one short timeout, then memory for a while."""
    from api.rate_limits import RateLimiter

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        limiter = RateLimiter(3, f"redis://127.0.0.1:{listener.getsockname()[1]}/0")
        started = time.monotonic()
        assert [limiter.allow("lab-key") for _ in range(5)] == [True] * 3 + [False] * 2
        assert limiter.retry_after("lab-key") >= 1
        assert time.monotonic() - started < 2 * RateLimiter.TIMEOUT_SECONDS + 1


def test_a_storage_url_limits_cannot_use_is_a_clear_error() -> None:
    from api.rate_limits import RateLimiter

    with pytest.raises(ValueError, match="rate-limit storage 'nosuch://host'"):
        RateLimiter(5, "nosuch://host")


def _queue(engine: object, home: Path, ran: list[tuple[str, str]], **options: object) -> JobQueue:
    return JobQueue(engine, {"arxiv": lambda job: ran.append((home.name, job.payload["arxiv_id"])) or []},
                    worker=replica_name(home), **options)


def test_replicas_take_over_the_jobs_of_a_dead_one_and_leave_live_ones_alone(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    one, two, dead = (replica_name(tmp_path / name) for name in ("one", "two", "dead"))
    expired, live = datetime.now(UTC) - timedelta(seconds=5), datetime.now(UTC) + timedelta(minutes=5)

    def job(arxiv_id: str, **fields: object) -> JobRow:
        return JobRow(kind="arxiv", payload_json=json.dumps({"arxiv_id": arxiv_id}), **fields)

    JobQueue(engine, {})  # the table
    with Session(engine) as session:
        session.add_all([
            job("queued"),
            job("pinned-to-two", worker=two),
            job("mine-when-I-died", status="running", claimed_by=one, lease_until=live),
            job("dead-replica", status="running", claimed_by=dead, lease_until=expired),
            job("before-leases", status="running"),
            job("two-is-on-it", status="running", claimed_by=two, lease_until=live),
            job("poison", status="running", claimed_by=dead, lease_until=expired, attempts=MAX_ATTEMPTS)])
        session.commit()
    ran: list[tuple[str, str]] = []
    first = _queue(engine, tmp_path / "one", ran)
    assert first.start() == 5
    first.shutdown(finish_queued=True)
    assert sorted(ran) == [("one", i) for i in ("before-leases", "dead-replica", "mine-when-I-died", "queued")]
    with Session(engine) as session:
        rows = {row.payload["arxiv_id"]: row for row in session.exec(select(JobRow))}
    assert rows["poison"].status == "failed" and "stopped its worker 3 times" in rows["poison"].error
    assert rows["two-is-on-it"].status == "running" and rows["pinned-to-two"].status == "queued"
    assert rows["dead-replica"].attempts == 1 and rows["dead-replica"].claimed_by == one
    assert all(rows[i].status == "done" for _, i in ran)  # each run's outcome recorded under its own claim
    second = _queue(engine, tmp_path / "two", ran)
    second.start()
    second.shutdown(finish_queued=True)
    # two, started anew, runs the job it was running when its last process ended (no need to wait for the lease)
    assert ("two", "pinned-to-two") in ran and ("two", "two-is-on-it") in ran and len(ran) == 6
    engine.dispose()


def test_replicas_racing_for_jobs_run_each_once(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    ran: list[tuple[str, str]] = []
    both_busy = threading.Event()

    def work(home: Path) -> Callable[[JobRow], list]:
        """Record the run; a replica's first job waits (10 s at most) until the other replica runs one too, so
        instant jobs cannot all be drained by whichever replica wakes first (that was a flaky pass)."""
        def run(job: JobRow) -> list:
            ran.append((home.name, job.payload["arxiv_id"]))
            if {replica for replica, _ in ran} == {"one", "two"}:
                both_busy.set()
            both_busy.wait(10)
            return []
        return run

    queues = [JobQueue(engine, {"arxiv": work(tmp_path / name)}, worker=replica_name(tmp_path / name),
                       poll_seconds=0.05) for name in ("one", "two")]
    for queue in queues:
        queue.start()
    for number in range(30):
        queues[number % 2].submit("arxiv", {"arxiv_id": str(number)}, owner="lab")
    for queue in queues:
        queue.shutdown(finish_queued=True)
    assert sorted(int(arxiv_id) for _, arxiv_id in ran) == list(range(30))
    assert {replica for replica, _ in ran} == {"one", "two"}  # both worked
    engine.dispose()


def test_a_draining_worker_rides_out_database_failures_then_gives_up(tmp_path: Path) -> None:
    """`shutdown(finish_queued=True)` goes on through a failure or two (SQLite busy, PostgreSQL restarting); a
    database that stays away stops it after DRAIN_RETRIES, the jobs left queued for the next start."""
    engine = make_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    ran: list[tuple[str, str]] = []
    queue = _queue(engine, tmp_path / "one", ran, poll_seconds=0.01)
    for number in range(2):
        queue.submit("arxiv", {"arxiv_id": str(number)}, owner="lab")
    claim, outages = queue._claim, [2]  # failures still to come

    def flaky_claim() -> JobRow | None:
        if outages[0]:
            outages[0] -= 1
            raise OSError("database is restarting")
        return claim()

    queue._claim = flaky_claim  # type: ignore[method-assign]
    queue.shutdown(finish_queued=True)
    assert sorted(ran) == [("one", "0"), ("one", "1")]

    queue = _queue(engine, tmp_path / "two", ran, poll_seconds=0.01)
    queue.submit("arxiv", {"arxiv_id": "left"}, owner="lab")
    outages[0], claim = 10**6, queue._claim
    queue._claim = flaky_claim  # type: ignore[method-assign]
    queue.shutdown(finish_queued=True)  # returns: it does not spin forever
    assert len(ran) == 2 and queue.unfinished() == 1
    engine.dispose()


def test_a_replica_killed_mid_job_loses_nothing(tmp_path: Path) -> None:
    """Two `scisynth serve` processes on one PostgreSQL with a shared papers folder: an upload accepted by the
    first, which is killed with -9 while ingesting it, is finished by the second (and found through it)."""
    key = {"Authorization": "Bearer lab-key"}
    with running_postgres(tmp_path / "pg") as server:
        url = new_database(server)
        shared = {"SCISYNTH_API_KEYS": "lab-key:member", "SCISYNTH_DATABASE_URL": url,
                  "SCISYNTH_PAPERS": str(tmp_path / "papers"), "SCISYNTH_JOB_LEASE_SECONDS": "3"}
        first, base = serve_process(tmp_path / "one", **shared)
        try:
            pdf = (PAPERS / "acl_2020.acl-main.447.pdf").read_bytes()  # 15 pages: seconds of work to cut short
            job = httpx.post(f"{base}/v1/papers", files={"file": ("s2orc.pdf", pdf, "application/pdf")},
                             headers=key, timeout=60).json()
            _wait_for(lambda: _job(base, job["id"], key)["status"] == "running")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        second, base = serve_process(tmp_path / "two", **shared)
        try:
            _wait_for(lambda: _job(base, job["id"], key)["status"] == "done")
            state = _job(base, job["id"], key)
            assert state["results"][0]["status"] == "added"
            found = httpx.get(f"{base}/v1/search", params={"q": "citation graph of scientific papers"},
                              headers=key, timeout=60).json()
            assert found["results"] and found["results"][0]["paper_id"] == state["results"][0]["paper_id"]
            engine = make_engine(url)
            with Session(engine) as session:
                row = session.get(JobRow, job["id"])
                assert row.attempts == 2 and row.claimed_by == replica_name(tmp_path / "two")  # taken over
            engine.dispose()
        finally:
            second.terminate()
            second.wait(timeout=120)


def _job(base: str, job_id: str, key: dict[str, str]) -> dict:
    return httpx.get(f"{base}/v1/jobs/{job_id}", headers=key, timeout=60).json()  # slow under load, never hung


def _wait_for(condition: Callable[[], bool], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
