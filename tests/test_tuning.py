"""Retrieval tuning (research/tuning.py): a trial ranks papers as the product does, and no study sees a dev claim."""

from __future__ import annotations

import numpy as np
import pytest

from evals.datasets import RetrievalSet
from research import tuning
from research.tuning import DEFAULTS, Candidates, rank_papers, tune
from tests.conftest import ask


def pool(queries: list[str]) -> Candidates:
    """Each query q's paper is `paper-q`, two chunks (ids 2i, 2i+1); BM25 ranks the query's own first chunk
    first, dense ranks it 30th behind other papers' chunks."""
    papers = {2 * i + half: f"paper-{q}" for i, q in enumerate(queries) for half in (0, 1)}
    lexical, dense = {}, {}
    for i, q in enumerate(queries):
        others = [c for c in papers if papers[c] != f"paper-{q}"]
        lexical[q] = [(2 * i, 9.0)] + [(c, 5.0 - n / 100) for n, c in enumerate(others[:40])]
        dense[q] = [(c, 0.9 - n / 100) for n, c in enumerate(others[:29])] + [(2 * i + 1, 0.5)]
    rng = np.random.default_rng(13)
    vectors = {c: v / np.linalg.norm(v) for c in papers for v in [rng.normal(size=8)]}
    return Candidates(papers, lexical, dense, vectors)


def test_a_trial_ranks_papers_once_each_and_only_from_its_candidates() -> None:
    queries = [f"q{i}" for i in range(30)]
    candidates = pool(queries)
    ranked = rank_papers(candidates, "q0", {**DEFAULTS, "alpha": 1.0})
    assert ranked[0] == "paper-q0" and len(ranked) == len(set(ranked))  # BM25 alone: its first chunk wins
    dense_only = rank_papers(candidates, "q0", {**DEFAULTS, "alpha": 0.0, "candidates": 20})
    assert "paper-q0" not in dense_only[:10]  # dense ranks it 30th, and BM25 weighs nothing
    diverse = rank_papers(candidates, "q0", {**DEFAULTS, "mmr": 0.7})
    assert len(diverse) <= 10 and len(diverse) == len(set(diverse))


def test_studies_see_train_claims_only_and_dev_is_scored_once_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    train_ids, dev_ids = [f"t{i}" for i in range(25)], [f"d{i}" for i in range(5)]
    candidates = pool(train_ids + dev_ids)
    pools = {size: candidates for size in tuning.CHUNK_SIZES}

    def dataset(ids: list[str]) -> RetrievalSet:
        return RetrievalSet([], {q: q for q in ids}, {q: {f"paper-{q}"} for q in ids}, {q: "SUPPORT" for q in ids})

    seen: list[list[str]] = []
    scored = tuning.ndcg
    monkeypatch.setattr(tuning, "ndcg", lambda p, params, queries, qrels: seen.append(queries) or scored(
        p, params, queries, qrels))
    report = tune(dataset(train_ids), dataset(dev_ids), pools, trials=8)
    looked_at_dev = [number for number, queries in enumerate(seen) if set(queries) & set(dev_ids)]
    assert looked_at_dev == [len(seen) - 3, len(seen) - 2, len(seen) - 1]  # BM25, defaults, tuned: once each
    assert all(set(seen[n]) == set(dev_ids) for n in looked_at_dev)
    # BM25 finds every paper first here and dense buries it: tuning must move weight to BM25 and gain on dev.
    assert report["final"]["fusion"] == "rrf" or report["final"]["alpha"] > 0.5
    assert report["dev"]["tuned"] > report["dev"]["default"]
    assert len(report["folds"]) == tuning.FOLDS


def test_a_library_without_sentence_vectors_ranks_and_still_answers(tmp_path, embedder) -> None:
    """Tuning libraries skip sentence vectors (most of an ingest's encoding): search is unchanged, and an answer
    encodes the sentences it reads."""
    from sqlmodel import Session, func, select

    from store.sentence_vectors import SentenceVectorRow
    from tests.conftest import PAPERS, make_runtime

    runtime = make_runtime(tmp_path, embedder)
    runtime.ingestor.encoder.sentence_vectors = False
    [added] = runtime.ingestor.ingest_paths([PAPERS / "acl_2020.acl-main.207.pdf"])
    with Session(runtime.engine) as session:
        assert session.exec(select(func.count()).select_from(SentenceVectorRow)).one() == 0
    assert runtime.searcher.search("citation-informed transformers", k=1)[0].paper_id == added.paper_id
    answer = ask(runtime, "How does SPECTER use citations?")
    assert answer["citations"] and all(c["paper_id"] == added.paper_id for c in answer["citations"])
    runtime.engine.dispose()
