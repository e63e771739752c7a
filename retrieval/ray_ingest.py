"""`scisynth ingest --ray`: parse and encode on a Ray cluster; decide and write here.

Ray actors, one per worker CPU, each holding the embedding model, parse the files (one call per file) and cut new
papers into chunks and encode them (`PaperEncoder`, as a serial ingest does). This process keeps what must
be decided in one place: which papers are new (`Ingestor.triage`, against the library and the run so far), and
each batch's write, one transaction with its vectors (`Ingestor.write`). So the library is the one a serial ingest
builds: the same papers and chunks, the same vectors up to float rounding.

Every node reads the files at the paths given here (a shared filesystem) and has scisynth installed with the same
embedding model; a node whose model differs is refused before any work is done.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from retrieval.embeddings import load_embedder
from retrieval.ingest import EncodedPaper, Ingestor, IngestResult, PaperEncoder, SeenPapers, parse_file
from tools.documents import Document

# Batches of parsed, not yet encoded papers per worker before parsing more files waits (a file is parsed whole: one
# huge JSONL file is held in memory at once, as its list of papers).
PARSED_BACKLOG_BATCHES = 4
MODEL_LOAD_SECONDS = 600  # a worker that has not loaded the model by then is stuck (no CPU free for it, say)


class RayUnavailableError(ValueError):
    """No Ray cluster at the address given, Ray is not installed, or its workers load another model."""


class EncoderWorker:
    """A Ray actor on one CPU holding the embedding model: parses files and encodes batches of new papers on its
    node (parsing is not a task of its own: with every CPU held by a worker, such a task would never be scheduled)."""

    def __init__(self, embeddings: str, chunk_tokens: int, sentence_vectors: bool) -> None:
        import ray

        self.node = ray.get_runtime_context().get_node_id()
        self.encoder = PaperEncoder(load_embedder(embeddings), chunk_tokens, sentence_vectors)

    def parse(self, path: str) -> list[tuple[str, Document] | IngestResult]:
        return list(parse_file(Path(path)))

    def model(self) -> str:
        return self.encoder.embedder.name

    def encode(self, fresh: list[tuple[str, Document]]) -> tuple[list[EncodedPaper], list[IngestResult], str]:
        return *self.encoder.encode_papers(fresh), self.node


@dataclass
class RayRun:
    """What a Ray ingest did: its results, and how many papers each node encoded."""

    results: list[IngestResult] = field(default_factory=list)
    papers_per_node: Counter[str] = field(default_factory=Counter)


def connect(address: str) -> Any:
    """The ray module, connected to the cluster at `address` ("auto": the one this machine belongs to)."""
    try:
        import ray
    except ImportError as error:
        raise RayUnavailableError("Ray is not installed: pip install 'scisynth[ray]'") from error
    if address == "auto":
        address = _address_on_this_machine()
    _check_reachable(address)
    local = {}
    if ipaddress.ip_address(socket.gethostbyname(_host(address))).is_loopback:
        # Ray would otherwise name this driver by the machine's outward address and wait for a node there.
        local = {"_node_ip_address": "127.0.0.1"}
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False, configure_logging=False,
                 **local)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RayUnavailableError(
            f"cannot join the Ray cluster at {address!r} ({error}). Run this command on a machine of the cluster: "
            "start one with 'ray start --head', or join this machine to it with 'ray start --address HEAD:PORT', "
            "then give that address (or 'auto').") from error
    return ray


def _as_given(item: tuple[str, Document] | IngestResult, absolute: str, given: str
              ) -> tuple[str, Document] | IngestResult:
    """A parse result of the file `absolute` naming it by the path the user gave (`given`), as a serial ingest does."""
    def rename(path: str | None) -> str | None:
        return given + path[len(absolute):] if path and (path == absolute or path.startswith(f"{absolute}:")) else path

    if isinstance(item, IngestResult):
        return replace(item, path=rename(item.path) or item.path)
    origin, document = item
    return rename(origin) or origin, replace(document, path=rename(document.path))


def _host(address: str) -> str:
    return address.removeprefix("ray://").rpartition(":")[0] or "127.0.0.1"


def _address_on_this_machine() -> str:
    """The address "auto" stands for (RAY_ADDRESS, else the cluster this machine last started or joined), found the
    way Ray finds it, so that a stale or dead one is refused at once instead of retried for minutes."""
    from ray._private.services import get_ray_address_from_environment

    try:
        return str(get_ray_address_from_environment("auto", None))
    except ConnectionError as error:
        raise RayUnavailableError(
            "no Ray cluster on this machine. Start one with 'ray start --head' (or join one with "
            "'ray start --address HEAD:PORT'), or give the head's address (HOST:PORT).") from error


def _check_reachable(address: str) -> None:
    """Refuse at once an address nothing listens on (Ray itself retries such an address for many minutes)."""
    port = address.rpartition(":")[2]
    if not port.isdigit():
        raise RayUnavailableError(f"{address!r} is not a Ray address: give the head's HOST:PORT ('ray start --head' "
                                  "prints it), or 'auto' on a machine of the cluster")
    try:
        socket.create_connection((_host(address), int(port)), timeout=5).close()
    except OSError as error:
        raise RayUnavailableError(
            f"no Ray cluster at {address!r} ({error}). Start one with 'ray start --head' and give its address "
            "(HOST:PORT), or 'auto' on a machine of the cluster.") from error


class RayIngest:
    """Runs `Ingestor.ingest_paths` with parsing and encoding spread over a Ray cluster."""

    def __init__(self, ingestor: Ingestor, embeddings: str, address: str = "auto", workers: int | None = None) -> None:
        """`embeddings` is the spec the library's embedder was loaded from (a folder is sent as an absolute path);
        `workers` actors encode (default: one per CPU of the cluster)."""
        self.ingestor = ingestor
        self.ray = connect(address)
        spec = str(Path(embeddings).resolve()) if os.path.isdir(embeddings) else embeddings
        cpus = int(self.ray.available_resources().get("CPU", 0))
        if cpus < (workers or 1):
            self.ray.shutdown()
            raise RayUnavailableError(f"the Ray cluster has {cpus} free CPUs for {workers or 1} workers (each takes "
                                      "one): add nodes, wait for its other jobs, or ask for fewer with --ray-workers")
        actor = self.ray.remote(num_cpus=1, max_restarts=1, max_task_retries=1)(EncoderWorker)
        self.workers = [actor.remote(spec, ingestor.encoder.chunk_tokens, ingestor.encoder.sentence_vectors)
                        for _ in range(workers or cpus)]
        try:
            models = set(self.ray.get([worker.model.remote() for worker in self.workers], timeout=MODEL_LOAD_SECONDS))
        except self.ray.exceptions.RayError as error:  # GetTimeoutError is one
            self.close()
            raise RayUnavailableError(f"a Ray worker could not load the embedding model {spec!r} within "
                                      f"{MODEL_LOAD_SECONDS} s: {error}") from error
        if models != {ingestor.embedder.name}:
            self.close()
            raise RayUnavailableError(f"the Ray workers load {', '.join(sorted(models))}, but this library is indexed "
                                      f"with {ingestor.embedder.name}: install the same model on every node")

    def close(self) -> None:
        """Stop the workers and leave the cluster (quietly: an error of the run itself matters more)."""
        for worker in self.workers:
            with contextlib.suppress(Exception):
                self.ray.kill(worker)
        self.ray.shutdown()

    def ingest_paths(self, paths: list[Path], on_paper: Callable[[IngestResult], None] | None = None,
                     added_by: str | None = None) -> RayRun:
        """Ingest every paper in the files, as `Ingestor.ingest_paths` does; results come in as batches finish."""
        try:
            return self._ingest(paths, on_paper, added_by)
        except self.ray.exceptions.RayError as error:
            raise RayUnavailableError(f"a Ray worker failed ({error}); the batches written so far stay in the library: "
                                      "run the same command again to add the rest") from error

    def _ingest(self, paths: list[Path], on_paper: Callable[[IngestResult], None] | None,
                added_by: str | None) -> RayRun:
        run, seen = RayRun(), SeenPapers()
        batch_size = self.ingestor.batch_papers
        # Workers do not start in this working directory: they read absolute paths, and results name the path given.
        files = deque((str(Path(path).absolute()), str(path)) for path in paths)
        busy: dict[Any, tuple[Any, tuple[str, str] | None]] = {}  # ref -> (worker, file parsed; None: encoding)
        idle, waiting = list(self.workers), deque[tuple[str, Document]]()

        def report(results: list[IngestResult]) -> None:
            run.results.extend(results)
            for result in results:
                if on_paper:
                    on_paper(result)

        while files or busy or waiting:
            while idle:
                parsing = any(file is not None for _, file in busy.values())
                if len(waiting) >= batch_size or (waiting and not files and not parsing):
                    # the last papers are shared out over the idle workers rather than left to one
                    size = min(batch_size, len(waiting) if files or parsing else -(-len(waiting) // len(idle)))
                    worker = idle.pop()
                    busy[worker.encode.remote([waiting.popleft() for _ in range(size)])] = (worker, None)
                elif files and len(waiting) < PARSED_BACKLOG_BATCHES * batch_size * len(self.workers):
                    worker, file = idle.pop(), files.popleft()
                    busy[worker.parse.remote(file[0])] = (worker, file)
                else:
                    break
            ready, _ = self.ray.wait(list(busy), num_returns=1)
            for ref in ready:
                worker, file = busy.pop(ref)
                idle.append(worker)
                if file is not None:
                    items = [_as_given(item, *file) for item in self.ray.get(ref)]
                    unchanged, fresh = self.ingestor.triage(
                        [item for item in items if not isinstance(item, IngestResult)], seen, added_by)
                    report([item for item in items if isinstance(item, IngestResult)] + unchanged)
                    waiting.extend(fresh)
                else:
                    papers, failed, node = self.ray.get(ref)
                    for result in failed:  # a later copy of a paper that had no text may have some
                        seen.forget(result.paper_id or "")
                    run.papers_per_node[node] += len(papers)
                    report(failed + self.ingestor.write(papers, added_by))
        self.ingestor.catalog.record_run(paths, [r.status for r in run.results])
        return run
