"""`scisynth serve` for real: a uvicorn process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_healthz_and_messages(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "SCISYNTH_HOME": str(tmp_path), "SCISYNTH_LLM": "extractive", "SCISYNTH_USE_ARXIV": "false"}
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env,
                              cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read().decode()
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.5)
        conversation = httpx.post(f"{base}/v1/conversations", json={}).json()
        reply = httpx.post(f"{base}/v1/conversations/{conversation['id']}/messages",
                           json={"content": "What is known about protein folding?"}, timeout=60).json()
        assert "library is empty" in reply["answer"]
        messages = httpx.get(f"{base}/v1/conversations/{conversation['id']}").json()["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"]
    finally:
        server.terminate()
        server.wait(timeout=30)
