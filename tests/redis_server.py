"""A real Redis (Debian's redis-server) on 127.0.0.1 for tests of what API replicas share: no persistence, its
own folder, stopped at the end. Missing redis-server fails the test: `.ci/run` installs it with apt-get."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import free_port


@contextlib.contextmanager
def running_redis(folder: Path) -> Iterator[str]:
    """Start redis-server and yield its URL once it answers PING."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("Debian's redis-server is not installed: .ci/run installs it (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            time.sleep(0.05)
        else:
            pytest.fail("redis-server did not answer within 5 seconds")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
