"""What several API replicas share. Rate limits: with SCISYNTH_REDIS_URL every replica counts a key's requests in
one window in a real Redis, so a key cannot multiply its rate by the number of replicas; without it each process
counts alone. Redis failing or hanging leaves each replica counting alone for a while (logged): it neither takes
the API down nor turns the limits off."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import httpx
import pytest

from agent.runtime import Runtime, build_runtime
from api.app import create_app
from tests.conftest import running_server
from tests.redis_server import running_redis

LIMIT = 6


def _statuses(library: Runtime, redis_url: str, key: str = "lab-key", rounds: int = 4) -> list[int]:
    """Alternate one key's requests between two replicas (two servers, each with its own app and limiter)."""
    settings = library.settings.model_copy(update={"api_keys": "lab-key,other-key", "redis_url": redis_url,
                                                   "rate_limit_per_minute": LIMIT})
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
    with caplog.at_level(logging.ERROR, logger="api.auth"):
        assert _statuses(library, url) == [200] * 8  # served, each replica counting its own 4 requests
    assert "rate-limit storage failed" in caplog.text


def test_a_hung_redis_costs_a_request_little_and_limits_stay_on() -> None:
    """A Redis that accepts connections and never answers: one short timeout, then memory for a while."""
    from api.auth import RateLimiter

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        limiter = RateLimiter(3, f"redis://127.0.0.1:{listener.getsockname()[1]}/0")
        started = time.monotonic()
        assert [limiter.allow("lab-key") for _ in range(5)] == [True] * 3 + [False] * 2
        assert limiter.retry_after("lab-key") >= 1
        assert time.monotonic() - started < 2 * RateLimiter.TIMEOUT_SECONDS + 1


def test_a_storage_url_limits_cannot_use_is_a_clear_error() -> None:
    from api.auth import RateLimiter

    with pytest.raises(ValueError, match="rate-limit storage 'nosuch://host'"):
        RateLimiter(5, "nosuch://host")


def test_a_restarting_replica_runs_again_only_the_jobs_it_accepted(tmp_path: Path) -> None:
    """Two replicas on one database: at start-up each resumes its own unfinished jobs (their uploads are on its
    disk) and leaves the other's alone (it may be running them)."""
    from sqlmodel import Session

    from agent.runtime import make_engine
    from api.jobs import JobQueue, JobRow, replica_name

    engine = make_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    ran: list[tuple[str, str]] = []

    def queue(home: Path) -> JobQueue:
        return JobQueue(engine, {"arxiv": lambda job: ran.append((home.name, job.payload["arxiv_id"])) or []},
                        worker=replica_name(home))

    with Session(engine) as session:  # one unfinished job each, and one from before replicas had names
        JobQueue(engine, {})
        session.add_all([JobRow(kind="arxiv", status="running", payload_json='{"arxiv_id": "a"}',
                                worker=replica_name(tmp_path / "one")),
                         JobRow(kind="arxiv", status="queued", payload_json='{"arxiv_id": "b"}',
                                worker=replica_name(tmp_path / "two")),
                         JobRow(kind="arxiv", status="queued", payload_json='{"arxiv_id": "legacy"}')])
        session.commit()
    one = queue(tmp_path / "one")
    assert one.resume() == 2
    one.shutdown(finish_queued=True)
    assert sorted(ran) == [("one", "a"), ("one", "legacy")]  # never "b": replica two may be running it
    two = queue(tmp_path / "two")
    assert two.resume() == 1
    two.shutdown(finish_queued=True)
    assert ("two", "b") in ran
    engine.dispose()
