"""`scisynth serve` for real: a uvicorn process on a free loopback port."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import httpx

from tests.conftest import PAPERS, serve_process


def test_serve_answers_healthz_and_messages(tmp_path: Path) -> None:
    server, base = serve_process(tmp_path)
    try:
        conversation = httpx.post(f"{base}/v1/conversations", json={}).json()
        reply = httpx.post(f"{base}/v1/conversations/{conversation['id']}/messages",
                           json={"content": "What is known about protein folding?"}, timeout=60).json()
        assert "library is empty" in reply["answer"]
        messages = httpx.get(f"{base}/v1/conversations/{conversation['id']}").json()["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_an_upload_accepted_before_kill_9_is_ingested_after_restart(tmp_path: Path) -> None:
    key = {"Authorization": "Bearer lab-key"}
    server, base = serve_process(tmp_path, SCISYNTH_API_KEYS="lab-key:member")
    try:
        pdf = (PAPERS / "acl_2020.acl-main.447.pdf").read_bytes()  # 15 pages: seconds of work to cut short
        job = httpx.post(f"{base}/v1/papers", files={"file": ("s2orc.pdf", pdf, "application/pdf")}, headers=key,
                         timeout=60).json()
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    with sqlite3.connect(tmp_path / "scisynth.db") as db:
        [(status,)] = db.execute("SELECT status FROM jobs WHERE id = ?", (job["id"],)).fetchall()
    assert status in ("queued", "running")  # the kill really cut the job short
    server, base = serve_process(tmp_path, SCISYNTH_API_KEYS="lab-key:member")
    try:
        for _ in range(600):
            state = httpx.get(f"{base}/v1/jobs/{job['id']}", headers=key).json()
            if state["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert state["status"] == "done" and state["results"][0]["status"] == "added"
        papers = httpx.get(f"{base}/v1/papers", headers=key).json()
        assert papers["total"] == 1 and papers["papers"][0]["pages"] == 15
        assert len(list((tmp_path / "papers" / "uploads").glob("*.pdf"))) == 1
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_forwarded_addresses_are_not_believed_unless_the_proxy_is_trusted(tmp_path: Path) -> None:
    """A client cannot pick the address its failed logins count against (nor lock out another address)."""
    server, base = serve_process(tmp_path, SCISYNTH_API_KEYS="lab-key", SCISYNTH_AUTH_FAILURES_PER_MINUTE="2")
    try:
        statuses = [httpx.get(f"{base}/v1/papers", headers={"Authorization": "Bearer guess",
                                                            "X-Forwarded-For": f"10.9.{i}.1"}).status_code
                    for i in range(4)]
        assert statuses == [401, 401, 429, 429]
        assert httpx.get(f"{base}/v1/papers", headers={"Authorization": "Bearer lab-key"}).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_sigterm_drains_not_ready_but_serving_then_stops(tmp_path: Path) -> None:
    """With SCISYNTH_DRAIN_SECONDS, SIGTERM turns /readyz to 503 at once (a proxy takes the replica out) while
    requests are still answered; the server stops on its own when the drain is over. Ctrl+C does not wait."""
    server, base = serve_process(tmp_path, SCISYNTH_DRAIN_SECONDS="3")
    try:
        assert httpx.get(f"{base}/readyz").status_code == 200
        server.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.5)
        draining = httpx.get(f"{base}/readyz")
        assert draining.status_code == 503 and draining.json()["checks"]["serving"] is False
        assert "stopping" in draining.json()["hint"]
        assert httpx.get(f"{base}/v1/papers").status_code == 200  # still serving
        # uvicorn re-raises the signal once it has shut down cleanly
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
        assert time.monotonic() - signalled >= 2.5  # it served out the drain before it stopped
    finally:
        server.kill()
    assert (tmp_path / "serve.log").read_text().count("Application shutdown complete") == 1
    server, base = serve_process(tmp_path, SCISYNTH_DRAIN_SECONDS="30")
    started = time.monotonic()
    server.send_signal(signal.SIGINT)
    server.wait(timeout=20)
    assert time.monotonic() - started < 15
    assert (tmp_path / "serve.log").read_text().count("Application shutdown complete") == 2
