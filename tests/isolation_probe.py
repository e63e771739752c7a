"""Functions a child process runs in tests/test_security_surfaces.py: a module that imports nothing heavy, so the
child starts within a small memory cap (a spawned child imports the module its function lives in)."""

from __future__ import annotations

import time


def sleep_for(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))
