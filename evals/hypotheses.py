"""hypotheses: what can go wrong with hypotheses, measured on cases built to fail.

- `restatement_flagged`: a "hypothesis" that restates an arXiv paper which is NOT in the library must come
  out not novel (novelty <= 0.2), found through an arXiv search (a local arXiv API over real harvested
  abstracts, evals/arxiv_mirror.py). Baseline: the same check without arXiv, which cannot see the paper.
- `pairing_not_flagged`: a pairing of two unrelated findings (an arXiv abstract's sentence carried to a
  PubMedQA abstract's setting) must not be flagged: its premises are quoted evidence, not prior work
  stating the pairing. Baseline: the same check counting the premises as prior work.
- `diversity`: 1 - mean pairwise cosine of the hypotheses drafted for one topic (PubMedQA questions).
Structural properties (fields present, evidence cited, templates labelled, no invented scores) are test
assertions, not scores.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from agent.novelty import NoveltyChecker
from agent.settings import Settings
from evals.arxiv_mirror import ArxivMirror
from evals.datasets import default_data_dir
from evals.metrics import mean
from evals.pubmedqa import load, pooled_library, sample
from retrieval.embeddings import Embedder
from retrieval.sentences import sentences
from tools.arxiv_client import ArxivClient

NOT_NOVEL = 0.2


def _finding(text: str) -> str:
    """The first sentence long enough to state something."""
    return next((s for s in sentences(text) if len(s.split()) >= 10), text[:300])


def run(settings: Settings, data_dir: Path, limit: int | None = 5, embedder: Embedder | None = None,
        on_item: Callable[[], None] | None = None) -> dict:
    records, test = load(data_dir)
    topics = [records[p]["QUESTION"] for p in sample(test, limit or 5)]
    started = time.perf_counter()
    runtime = pooled_library(records, settings.home_dir / "evals" / "pubmedqa", settings, embedder)
    diversity, kinds = [], set()
    for topic in topics:
        result = runtime.ask(topic, mode="hypothesize", n=3)
        kinds |= {h["kind"] for h in result["hypotheses"]}
        statements = [h["statement"] for h in result["hypotheses"]]
        if len(statements) > 1:
            vectors = runtime.embedder.embed(statements)
            diversity.append(1 - mean([float(a @ b) for a, b in itertools.combinations(vectors, 2)]))
        if on_item:
            on_item()
    arxiv_path = (default_data_dir("arxiv-abstracts") or data_dir) / "arxiv_abstracts_2023-03-07.jsonl"
    papers = [json.loads(line) for line in arxiv_path.read_text().splitlines() if line.strip()]
    # Bandit B311 accepted: a seeded sample for an evaluation, not a secret.
    chosen = random.Random(13).sample(papers, min(len(papers), 3 * (limit or 5)))  # nosec B311
    abstracts = [" ".join(records[p]["CONTEXTS"]) for p in sample(test, len(chosen))]
    with ArxivMirror(arxiv_path) as mirror:
        arxiv = ArxivClient(mirror.api_url, delay_seconds=0)
        checker = NoveltyChecker(runtime.searcher, runtime.scorer, arxiv)
        flagged, unseen, paired, paired_naive = [], [], [], []
        for paper, abstract in zip(chosen, abstracts, strict=False):
            restated = _finding(paper["abstract"])
            flagged.append(float(checker.check(restated, use_arxiv=True)[0] <= NOT_NOVEL))
            unseen.append(float(checker.check(restated, use_arxiv=False)[0] <= NOT_NOVEL))
            finding, setting = _finding(abstract), _finding(paper["abstract"])
            pairing = f"The finding that {finding.rstrip('.')} should also hold where {setting[0].lower()}{setting[1:]}"
            premises = frozenset({finding, setting})
            paired.append(float(checker.check(pairing, use_arxiv=True, builds_on=premises)[0] > NOT_NOVEL))
            paired_naive.append(float(checker.check(pairing, use_arxiv=True)[0] > NOT_NOVEL))
            if on_item:
                on_item()
    provider = runtime.composer.name
    return {"suite": "hypotheses", "dataset": {
                "name": "PubMedQA questions as topics; arXiv abstracts (2023-03-07) restated and paired",
                "topics": len(topics), "novelty_cases": len(chosen), "arxiv_records": len(papers)},
            "settings": {"provider": provider, "not_novel_at_or_below": NOT_NOVEL, "kinds": sorted(kinds)},
            "metrics": {provider: {"restatement_flagged": round(mean(flagged), 4),
                                   "pairing_not_flagged": round(mean(paired), 4),
                                   "diversity": round(mean(diversity), 4)},
                        "baseline-library-only": {"restatement_flagged": round(mean(unseen), 4)},
                        "baseline-premises-as-prior-work": {"pairing_not_flagged": round(mean(paired_naive), 4)}},
            "timings": {"seconds": round(time.perf_counter() - started, 2)}, "items": []}
