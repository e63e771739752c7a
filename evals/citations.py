"""citations: the assistant's answers checked against gold data it did not produce.

PubMedQA (pooled 1,000 abstracts; a test sample stratified by label):
- `answered`: share of questions answered (`answered: true`) when the question's own abstract is in the library;
- `abstained`: share that say the library does not answer when that abstract is removed;
- `citation_precision`: share of the citations of answered questions that cite the question's own abstract;
- `statement_coverage` (model answers only; an ALCE-style citation-recall proxy): share of cited statements
  with at least 60% of their content words (stemmed) in their cited quotes. Known failure modes: a faithful
  paraphrase counts as uncovered; a statement that rearranges the quote's words into a different (even
  negated) claim counts as covered. Extractive answers quote their sources, so for them it holds by
  construction and is not reported (it is a test assertion instead).

SciFact (its corpus; dev claims with evidence, stratified by label), each claim asked as a question:
- `sentence_precision`: share of citations whose quote is a gold rationale sentence of the claim;
- `paper_precision`: share of citations to one of the claim's evidence abstracts;
- answerability by kind of claim (one evidence abstract, or several: a question several papers answer):
  `answered` with its evidence in the library, `abstained` when the sampled claims' evidence abstracts are
  removed from it.

Multi-paper questions (evals/multi_paper: 40 questions written over PubMedQA's abstracts, each needing two to
four of them; how they were written is in RULES.md), by kind, all together and the seeded half no setting was
calibrated on: `answered` with the gold
abstracts in the pooled library, `abstained` without them, `citation_precision` (citations to a gold or
also-relevant abstract), `gold_papers_cited` (share of each question's gold abstracts cited).

Baselines in the same tables: always answer / always abstain, and the lead sentence of the top retrieved
abstract (what a retriever alone would cite).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from agent.citations import _claims
from agent.evidence_judge import stems
from agent.settings import Settings
from agent.turn import TurnRequest
from evals.datasets import RetrievalSet, default_data_dir, ensure_scifact, eval_home, load_scifact, subset
from evals.metrics import mean
from evals.pubmedqa import load, pooled_library, sample, shared_library
from evals.scifact_retrieval import build_library, rank_documents
from retrieval.embeddings import Embedder
from service.turns import TurnService

COVERED = 0.6
MULTI_PAPER = Path(__file__).with_name("multi_paper") / "questions.jsonl"
MULTI_PAPER_SEED = 40


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


def quotes_of(citation: dict) -> list[str]:
    """Every quote a citation shows: the first sentence citing it and the passage's others (`also`)."""
    return [citation["quote"], *(q["quote"] for q in citation.get("also", []))]


def statement_coverage(answer: str, citations: list[dict]) -> list[float]:
    """1.0 per cited statement whose content words are mostly in its cited quotes, else 0.0."""
    quotes = {c["n"]: " ".join(quotes_of(c)) for c in citations}
    covered = []
    for statement, numbers in _claims(answer)[0]:
        words = stems(statement)
        cited = set().union(*(stems(quotes[n]) for n in numbers if n in quotes)) if numbers else set()
        if words and cited:
            covered.append(float(len(words & cited) / len(words) >= COVERED))
    return covered


def pubmedqa_part(settings: Settings, data_dir: Path, limit: int | None, embedder: Embedder | None,
                  on_item: Callable[[], None] | None) -> tuple[str, dict, dict]:
    records, test = load(data_dir)
    pmids = sample(test, limit or 20)
    runtime = shared_library(records, settings, embedder)
    answered, precision, coverage, turns = [], [], [], TurnService(runtime)
    for pmid in pmids:
        result = turns.run(TurnRequest(question=records[pmid]["QUESTION"]))
        answered.append(float(result.answered))
        precision += [float(c["paper_id"] == pmid) for c in result.citations]
        if result.provider not in ("extractive", "rules"):
            coverage += statement_coverage(result.answer, result.citations)
        if on_item:
            on_item()
    ablated = pooled_library(records, eval_home(settings) / f"pubmedqa-minus-{len(pmids)}", settings,
                             embedder, exclude=set(pmids))
    abstained, ablated_turns = [], TurnService(ablated)
    for pmid in pmids:
        abstained.append(float(not ablated_turns.run(TurnRequest(question=records[pmid]["QUESTION"])).answered))
        if on_item:
            on_item()
    row = {"answered": round(mean(answered), 4), "abstained": round(mean(abstained), 4),
           "citation_precision": round(mean(precision), 4)}
    if coverage:
        row["statement_coverage"] = round(mean(coverage), 4)
    return runtime.composer.name, row, {"questions": len(pmids), "citations": len(precision)}


def multi_paper_halves() -> tuple[list[dict], list[dict]]:
    """The multi-paper questions in two seeded halves: one that settings may be calibrated on
    (research/answer_cutoff.py), one only ever scored."""
    questions = [json.loads(line) for line in MULTI_PAPER.open()]
    random.Random(MULTI_PAPER_SEED).shuffle(questions)
    return questions[:len(questions) // 2], questions[len(questions) // 2:]


def multi_paper_part(settings: Settings, data_dir: Path, embedder: Embedder | None,
                     on_item: Callable[[], None] | None) -> tuple[dict[str, dict], dict]:
    """Questions that need two to four PubMedQA abstracts together (evals/multi_paper), by kind: answered with
    their gold abstracts in the pooled library, abstained without them; citations to a gold or also-relevant
    abstract; share of each question's gold abstracts cited."""
    calibration, held_out = multi_paper_halves()
    questions = sorted(calibration + held_out, key=lambda q: q["id"])
    unseen = {q["id"] for q in held_out}
    records, _ = load(data_dir)
    runtimes = {True: shared_library(records, settings, embedder),
                False: pooled_library(records, eval_home(settings) / f"pubmedqa-minus-multi-paper-{len(questions)}",
                                      settings, embedder, exclude={pmid for q in questions for pmid in q["gold"]})}
    rows: dict[str, dict[str, list[float]]] = {}
    for present, runtime in runtimes.items():
        turns = TurnService(runtime)
        for question in questions:
            result = turns.run(TurnRequest(question=question["question"]))
            for group in (question["kind"], "held-out half") if question["id"] in unseen else (question["kind"],):
                row = rows.setdefault(group, {"answered": [], "abstained": [], "citation_precision": [],
                                              "gold_papers_cited": []})
                if present:
                    fair = set(question["gold"]) | set(question.get("also_relevant", []))
                    cited = {c["paper_id"] for c in result.citations}
                    row["answered"].append(float(result.answered))
                    row["citation_precision"] += [float(c["paper_id"] in fair) for c in result.citations]
                    row["gold_papers_cited"].append(len(cited & set(question["gold"])) / len(question["gold"]))
                else:
                    row["abstained"].append(float(not result.answered))
            if on_item:
                on_item()
    held_row = rows.pop("held-out half")
    every = {name: [v for row in rows.values() for v in row[name]] for name in held_row}
    table = {f"multi-paper ({kind})": row for kind, row in sorted(rows.items())} | {
        "multi-paper (all)": every, "multi-paper (held-out half)": held_row}
    metrics = {name: {metric: round(mean(values), 4) for metric, values in row.items()} | {
        "questions": len(row["answered"])} for name, row in table.items()}
    return metrics, {"questions": len(questions), "gold_abstracts": len({p for q in questions for p in q["gold"]})}


def scifact_part(settings: Settings, limit: int | None, embedder: Embedder | None,
                 on_item: Callable[[], None] | None, corpus_limit: int | None) -> tuple[dict, dict, dict]:
    data_dir = default_data_dir("scifact") or ensure_scifact(settings.storage.home_dir)
    dataset = load_scifact(data_dir, "dev")
    claims = {str(c["id"]): c for c in map(json.loads, (data_dir / "claims_dev.jsonl").open())}
    with_evidence = [q for q in dataset.queries if claims[q]["evidence"]]
    dataset.queries = {q: dataset.queries[q] for q in with_evidence}
    dataset = subset(dataset, corpus_limit, limit or 20)
    runtime = build_library(dataset, eval_home(settings) / f"scifact-{len(dataset.documents)}-"
                            f"{len(dataset.queries)}", settings, embedder, llm=settings.model.llm)
    abstracts = {str(d["doc_id"]): d["abstract"] for d in dataset.documents}
    chunk_papers = runtime.catalog.chunk_papers()
    sentence_hits, paper_hits, lead_sentence, lead_paper = [], [], [], []
    answered: dict[str, list[float]] = {}
    turns = TurnService(runtime)
    for claim_id, text in dataset.queries.items():
        evidence = claims[claim_id]["evidence"]
        gold = {_normal(abstracts[doc][i]) for doc, rationales in evidence.items() for r in rationales
                for i in r["sentences"]}
        result = turns.run(TurnRequest(question=text))
        answered.setdefault(_kind(evidence), []).append(float(result.answered))
        for citation in result.citations:
            paper_hits.append(float(citation["paper_id"] in evidence))
            sentence_hits += [float(any(quote in g or g in quote for g in gold)) for quote in map(
                _normal, quotes_of(citation))]
        top = rank_documents(runtime, chunk_papers, text, "hybrid")[:1]
        if top:
            lead_paper.append(float(top[0] in evidence))
            lead_sentence.append(float(_normal(abstracts[top[0]][0]) in gold))
        if on_item:
            on_item()
    agent_row = {"sentence_precision": round(mean(sentence_hits), 4), "paper_precision": round(mean(paper_hits), 4)}
    baseline = {"sentence_precision": round(mean(lead_sentence), 4), "paper_precision": round(mean(lead_paper), 4)}
    abstained = _abstained_without_evidence(settings, dataset, claims, embedder, on_item)
    answerability = {f"scifact-answerability ({kind})": {"answered": round(mean(answered[kind]), 4),
                                                        "abstained": round(mean(abstained[kind]), 4),
                                                        "claims": len(answered[kind])} for kind in sorted(answered)}
    return agent_row, baseline, {"claims": len(dataset.queries), "citations": len(sentence_hits),
                                 "documents": len(dataset.documents), "answerability": answerability}


def _kind(evidence: dict) -> str:
    return "one evidence abstract" if len(evidence) == 1 else "several evidence abstracts"


def _abstained_without_evidence(settings: Settings, dataset: RetrievalSet, claims: dict[str, dict],
                                embedder: Embedder | None, on_item: Callable[[], None] | None
                                ) -> dict[str, list[float]]:
    """Each claim asked again of the library without the sampled claims' evidence abstracts: does it say the
    library does not answer? (One library for all, as PubMedQA's ablation: another claim's evidence missing too
    changes nothing for this one.)"""
    removed = {doc for claim_id in dataset.queries for doc in claims[claim_id]["evidence"]}
    kept = RetrievalSet([d for d in dataset.documents if str(d["doc_id"]) not in removed], dataset.queries, {},
                        dataset.strata)
    runtime = build_library(kept, eval_home(settings) / f"scifact-{len(kept.documents)}-{len(kept.queries)}-"
                            "without-evidence", settings, embedder, llm=settings.model.llm)
    turns, abstained = TurnService(runtime), {}
    for claim_id, text in dataset.queries.items():
        result = turns.run(TurnRequest(question=text))
        abstained.setdefault(_kind(claims[claim_id]["evidence"]), []).append(float(not result.answered))
        if on_item:
            on_item()
    return abstained


def run(settings: Settings, data_dir: Path, limit: int | None = 20, embedder: Embedder | None = None,
        on_item: Callable[[], None] | None = None, corpus_limit: int | None = None) -> dict:
    started = time.perf_counter()
    provider, pubmed, pubmed_counts = pubmedqa_part(settings, data_dir, limit, embedder, on_item)
    scifact, lead, scifact_counts = scifact_part(settings, limit, embedder, on_item, corpus_limit)
    answerability = scifact_counts.pop("answerability")
    multi_paper, multi_counts = multi_paper_part(settings, data_dir, embedder, on_item)
    return {"suite": "citations",
            "dataset": {"name": "PubMedQA test questions (pooled abstracts) and SciFact dev claims with evidence",
                        "sampling": "stratified by label (seed 13)", "pubmedqa": pubmed_counts,
                        "scifact": scifact_counts, "multi-paper": multi_counts},
            "settings": {"provider": provider},
            "metrics": {f"pubmedqa-{provider}": pubmed,
                        "pubmedqa-baseline-always-answer": {"answered": 1.0, "abstained": 0.0},
                        "pubmedqa-baseline-always-abstain": {"answered": 0.0, "abstained": 1.0},
                        f"scifact-{provider}": scifact,
                        "scifact-baseline-lead-sentence": lead, **answerability, **multi_paper},
            "timings": {"seconds": round(time.perf_counter() - started, 2)}, "items": []}
