"""hypotheses: what can go wrong with hypotheses, measured on cases built to fail.

- `restatement_flagged`: a "hypothesis" that restates an arXiv paper which is NOT in the library must come
  out not novel (novelty <= 0.2), found through an arXiv search (a local arXiv API over real harvested
  abstracts, evals/arxiv_mirror.py). Baseline: the same check without arXiv, which cannot see the paper.
- `pairing_not_flagged`: a pairing of two unrelated findings (an arXiv abstract's sentence carried to a
  PubMedQA abstract's setting) must not be flagged: its premises are quoted evidence, not prior work
  stating the pairing. Baseline: the same check counting the premises as prior work.
- `diversity`: 1 - mean pairwise cosine of the hypotheses drafted for one topic (PubMedQA questions).
- `premise_body_prose`: of the sentences a hypothesize turn quotes as findings or open questions (answer and
  hypothesis citations, template premises, open questions), on the shared PDFs with a GROBID parse and the
  JATS articles (each paper's title as the topic), the share that the paper's own structure places in body
  prose rather than a title, heading, caption, author line or reference entry (evals/paper_structure.py).
  Baselines: the best sentence of each retrieved passage with no rule, and with the old shape-only rule.
- `gap_recall`: for the papers with a limitations or future-work section (JATS, GROBID, unarXive), the share
  of that section's sentences among the open questions found for the paper's title. Baseline: sentences with
  an open-question keyword from the same papers, ranked the same way, as many as the finder returns.
- `cross_paper_pairings`: the share of template hypotheses that pair two different papers, told apart by their
  text, in a library that holds each parsed paper twice (its PDF or JATS, and its abstract as a "preprint"
  record with a subtitle). Must be 1.0.
Structural properties (fields present, evidence cited, templates labelled, no invented scores) are test
assertions, not scores.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

from agent.gaps import OpenQuestionFinder
from agent.novelty import NoveltyChecker
from agent.prose import is_prose
from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from agent.turn import TurnRequest
from evals.arxiv_mirror import ArxivMirror
from evals.citations import quotes_of
from evals.datasets import default_data_dir, eval_home, library_settings
from evals.metrics import mean
from evals.paper_structure import (
    PaperGold,
    preprint_copies,
    same_text,
    shared_golds,
    unarxive_gap_records,
    unarxive_gold,
)
from evals.pubmedqa import load, sample, shared_library
from retrieval.embeddings import Embedder
from retrieval.sentences import sentences
from service.turns import TurnService
from tools.arxiv_client import ArxivClient
from tools.documents import title_key

NOT_NOVEL = 0.2
# The keyword baseline's words for an open question.
_GAP_KEYWORDS = re.compile(r"\b(?:future|limitations?|further|unclear|unknown|remains?|open)\b", re.IGNORECASE)


def _finding(text: str) -> str:
    """The first sentence long enough to state something."""
    return next((s for s in sentences(text) if len(s.split()) >= 10), text[:300])


def _judged(sentences_quoted: list[str], golds: list[PaperGold]) -> list[bool]:
    """Body prose (True) or not (False) for each sentence some paper's structure places; the rest left out."""
    verdicts = []
    for sentence in sentences_quoted:
        placed = [v for v in (g.judge(sentence) for g in golds if g.body) if v is not None]
        if placed:
            verdicts.append(any(placed))
    return verdicts


def _recall(gold: list[str], found: list[str]) -> float:
    """Share of the gold sentences that one of the found sentences quotes (normalised text, either way round)."""
    keys = [title_key(f) for f in found]
    return mean([float(any(g in k or k in g for k in keys if k)) for g in (title_key(s) for s in gold)])


def _two_papers(runtime: Runtime, paper_ids: list[str]) -> bool:
    """Two different papers by their text (not by id or title, which is how the pairing itself tells them)."""
    if len(set(paper_ids)) != 2:
        return False
    first, second = (runtime.catalog.paper_text(p) for p in paper_ids)
    return not same_text(first, second)


def _keyword_gaps(runtime: Runtime, topic: str, evidence_papers: list[str], most: int) -> list[str]:
    """The baseline: sentences with an open-question keyword from the same papers, closest to the topic first."""
    passages = runtime.searcher.paper_passages(evidence_papers)
    found = runtime.scorer.sentences(topic, passages, keep=lambda _p, text: bool(_GAP_KEYWORDS.search(text)))
    ranked = sorted((s for group in found for s in group), key=lambda s: -s.score)
    return list(dict.fromkeys(s.text for s in ranked))[:most]


def structure(settings: Settings, embedder: Embedder | None, on_item: Callable[[], None] | None = None
              ) -> tuple[dict[str, dict], dict]:
    """premise_body_prose, gap_recall and cross_paper_pairings with their baselines (see the module docstring),
    and what they were measured on. Needs ../shared/data (papers, pmc-jats, unarxive)."""
    papers = default_data_dir("papers")
    if papers is None:
        return {}, {"structure": "not measured: ../shared/data/papers, pmc-jats and unarxive are not here"}
    root, home = papers.parent, eval_home(settings) / "structure"
    golds = shared_golds(root)
    unarxive = unarxive_gap_records(root / "unarxive", home / "data")
    golds += unarxive_gold(unarxive)
    runtime = build_runtime(library_settings(settings, home), embedder=embedder)
    copies = preprint_copies(golds, home / "data")  # a second copy of each parsed paper: never paired with itself
    runtime.ingestor.ingest_paths(sorted({*(g.path for g in golds), *papers.glob("*.pdf"), copies}))
    finder = OpenQuestionFinder(runtime.searcher, runtime.scorer)  # the runtime's own settings: for its limits
    quoted, any_sentence, shape_only, recall, keyword_recall, pairings = [], [], [], [], [], []
    turns = TurnService(runtime)
    for gold in golds:
        result = turns.run(TurnRequest(question=gold.title, mode="hypothesize", n=2))
        quoted += [q for c in result.citations for q in quotes_of(c)] + [q["text"] for q in result.open_questions]
        quoted += [p for h in result.hypotheses for p in h.get("premises", [])]
        cited = {c["n"]: c["paper_id"] for c in result.citations}
        pairings += [float(_two_papers(runtime, [cited[n] for n in h["evidence"]])) for h in result.hypotheses
                     if h["kind"] == "template"]
        passages = runtime.searcher.search(gold.title, k=8)
        for keep, into in ((None, any_sentence), (lambda _p, text: is_prose(text), shape_only)):
            into += [best.text for p in passages if (best := runtime.scorer.best(gold.title, p, keep))]
        if gold.gaps:
            recall.append(_recall(gold.gaps, [q["text"] for q in result.open_questions]))
            evidence_papers = list(dict.fromkeys(p.paper_id for p in runtime.searcher.search(gold.title, k=16)))
            keyword = _keyword_gaps(runtime, gold.title, evidence_papers[:finder.papers], finder.most)
            keyword_recall.append(_recall(gold.gaps, keyword))
        if on_item:
            on_item()
    judged = _judged(quoted, golds)
    metrics = {"premise_body_prose": round(mean([float(v) for v in judged]), 4),
               "gap_recall": round(mean(recall), 4), "cross_paper_pairings": round(mean(pairings), 4)}
    baselines = {"baseline-any-sentence": {"premise_body_prose": round(mean([float(v) for v in _judged(
                     any_sentence, golds)]), 4)},
                 "baseline-prose-shape": {"premise_body_prose": round(mean([float(v) for v in _judged(
                     shape_only, golds)]), 4)},
                 "baseline-keyword": {"gap_recall": round(mean(keyword_recall), 4)}}
    described = {"structure_papers": len(golds), "gap_papers": len(recall), "quoted_sentences": len(quoted),
                 "quoted_placed_by_structure": len(judged), "template_hypotheses": len(pairings)}
    return {"metrics": metrics, "baselines": baselines}, described


def run(settings: Settings, data_dir: Path, limit: int | None = 5, embedder: Embedder | None = None,
        on_item: Callable[[], None] | None = None) -> dict:
    records, test = load(data_dir)
    topics = [records[p]["QUESTION"] for p in sample(test, limit or 5)]
    started = time.perf_counter()
    runtime = shared_library(records, settings, embedder)
    diversity, kinds, turns = [], set(), TurnService(runtime)
    for topic in topics:
        result = turns.run(TurnRequest(question=topic, mode="hypothesize", n=3))
        kinds |= {h["kind"] for h in result.hypotheses}
        statements = [h["statement"] for h in result.hypotheses]
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
            flagged.append(float(checker.check(restated, use_arxiv=True).score <= NOT_NOVEL))
            unseen.append(float(checker.check(restated, use_arxiv=False).score <= NOT_NOVEL))
            finding, setting = _finding(abstract), _finding(paper["abstract"])
            pairing = f"The finding that {finding.rstrip('.')} should also hold where {setting[0].lower()}{setting[1:]}"
            premises = frozenset({finding, setting})
            paired.append(float(checker.check(pairing, use_arxiv=True, builds_on=premises).score > NOT_NOVEL))
            paired_naive.append(float(checker.check(pairing, use_arxiv=True).score > NOT_NOVEL))
            if on_item:
                on_item()
    provider = runtime.composer.name
    measured, described = structure(settings, embedder, on_item)
    return {"suite": "hypotheses", "dataset": {
                "name": "PubMedQA questions as topics; arXiv abstracts (2023-03-07) restated and paired; shared "
                        "PDFs (GROBID parses), PMC JATS and unarXive papers for premises and open questions",
                "topics": len(topics), "novelty_cases": len(chosen), "arxiv_records": len(papers), **described},
            "settings": {"provider": provider, "not_novel_at_or_below": NOT_NOVEL, "kinds": sorted(kinds)},
            "metrics": {provider: {"restatement_flagged": round(mean(flagged), 4),
                                   "pairing_not_flagged": round(mean(paired), 4),
                                   "diversity": round(mean(diversity), 4), **measured.get("metrics", {})},
                        "baseline-library-only": {"restatement_flagged": round(mean(unseen), 4)},
                        "baseline-premises-as-prior-work": {"pairing_not_flagged": round(mean(paired_naive), 4)},
                        **measured.get("baselines", {})},
            "timings": {"seconds": round(time.perf_counter() - started, 2)}, "items": []}
