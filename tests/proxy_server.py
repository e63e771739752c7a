"""A real HAProxy (Debian's) running deploy/haproxy.cfg on loopback: the compose file's proxy with its replica
addresses swapped for local ports."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port

CONFIG = ROOT / "deploy" / "haproxy.cfg"


def proxy_config(folder: Path, port: int, replicas: dict[str, int]) -> Path:
    """deploy/haproxy.cfg listening on `port` of loopback, its servers at the replicas' loopback ports."""
    text = CONFIG.read_text().replace("bind :8080", f"bind 127.0.0.1:{port}")
    text = text.replace("log stdout format raw local0", "")  # no log target wanted here
    for name, replica_port in replicas.items():
        assert f"server {name} {name}:8000 check" in text, f"deploy/haproxy.cfg has no server {name}"
        text = text.replace(f"server {name} {name}:8000 check", f"server {name} 127.0.0.1:{replica_port} check")
    path = folder / "haproxy.cfg"
    path.write_text(text)
    return path


@contextlib.contextmanager
def running_proxy(folder: Path, replicas: dict[str, int]) -> Iterator[str]:
    """HAProxy in front of the replicas (name -> port); yields its base URL."""
    binary = shutil.which("haproxy")
    if binary is None:
        pytest.fail("Debian's haproxy is not installed: .ci/run installs it (apt-get install haproxy)")
    port = free_port()
    config = proxy_config(folder, port, replicas)
    checked = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    if checked.returncode != 0:  # HAProxy would exit at once, and every request would fail for another reason
        raise RuntimeError(f"deploy/haproxy.cfg is not valid:\n{checked.stdout}{checked.stderr}")
    process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:  # listening before anyone is sent to it
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            break
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"HAProxy did not start (exit code {process.poll()})")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
