"""A real Ray cluster of two nodes on 127.0.0.1 for tests and benchmarks: `ray start --head`, then a second node
joined with `ray start --address`, one CPU each, stopped at the end (`ray stop`); and a library's chunks as data, to
compare what a Ray ingest built with what a serial one did."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sqlmodel import Session, select

from agent.runtime import Runtime
from store.catalog import ChunkRow
from store.sentence_vectors import SentenceVectorRow
from tests.conftest import free_port

RAY = str(Path(sys.executable).with_name("ray"))
ENVIRONMENT = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}  # no usage reports: tests talk to loopback only


def _ray(*arguments: str) -> None:
    subprocess.run([RAY, *arguments], check=True, env=ENVIRONMENT, timeout=180,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _nodes_alive(address: str) -> int:
    status = subprocess.run([RAY, "status", "--address", address], env=ENVIRONMENT, capture_output=True,
                            text=True, timeout=60)
    active = status.stdout.split("Active:")[-1].split("Pending:")[0]
    return sum(line.strip().startswith("1 node_") for line in active.splitlines())


@contextlib.contextmanager
def running_ray_cluster(nodes: int = 2, cpus_per_node: int = 1) -> Iterator[str]:
    """Start the nodes; yield the head's address once `ray status` lists all of them alive."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    try:
        _ray("start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus_per_node}",
             "--include-dashboard=false", "--disable-usage-stats")
        for _ in range(nodes - 1):
            _ray("start", f"--address={address}", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus_per_node}",
                 "--disable-usage-stats")
        deadline = time.monotonic() + 60
        while _nodes_alive(address) < nodes:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Ray cluster at {address} did not list {nodes} nodes within 60 s")
            time.sleep(1)
        yield address
    finally:
        subprocess.run([RAY, "stop", "--force"], env=ENVIRONMENT, capture_output=True, timeout=120)


def library_snapshot(runtime: Runtime) -> tuple[dict, dict[tuple[str, int], np.ndarray]]:
    """({(paper, ordinal): (section, text, pages, sentence spans)}, {(paper, ordinal): vector}) of a library."""
    with Session(runtime.engine) as session:
        chunks = session.exec(select(ChunkRow)).all()
        spans = {row.chunk_id: row.spans_json for row in session.exec(select(SentenceVectorRow)).all()}
    vectors = runtime.store.vectors([chunk.id for chunk in chunks])
    rows = {(c.paper_id, c.ordinal): (c.section, c.text, c.page_spans_json, spans.get(c.id)) for c in chunks}
    return rows, {(c.paper_id, c.ordinal): vectors[c.id] for c in chunks}
