"""open-questions: does the open-question finder quote what papers leave open, and only that?

The labelled set (evals/open_questions/: 1,741 body-prose sentences of 144 real papers, drawn by
research/open_question_pool.py in six batches and hand-labelled by the rules in LABELLING.md) is split by batch:
the rules were tuned on batches 1-5 (the first 36 papers, then 22 PDFs, 18 JATS articles, 18 publisher PDFs and 22
PDFs of other publishers and fields from outside ../shared, each batch first measured as held out and then looked
at), and batch 6 (28 PDFs of AllenAI science-parse's test set: computer science, NLP, databases and a plant
physiology article; drawn before the last rules were written, labelled blind, its sentences never read for a rule)
is held out and gated. Both parts are reported.
Each sentence is judged in its place: the finder reads it after the sentences before it in its section (its
listing rule continues a list of open problems), as it reads a paper.

- `precision`, `recall`, `f1`: of "this sentence states an open question" (a limitation, future work, an open
  question or a conflicting result), against the labels;
- beside them, the keyword baseline (any of "future", "further", "limitation", "unclear", "unknown",
  "remain", "open");
- `sentence types`: precision and recall of each type cue of agent/sentence_types.py against the labelled type.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from agent.gaps import stated_gaps
from agent.prose import is_body_prose
from agent.sentence_types import sentence_type
from evals.hypotheses import _GAP_KEYWORDS
from retrieval.search import Passage

FOLDER = Path(__file__).with_name("open_questions")
HELD_OUT_BATCH = 6
TYPES = ("aim", "prior_work", "method", "finding", "question", "instruction")


def pool_file(folder: Path, batch: int = 1) -> Path:
    """The file of one batch of the pool (the first pool is `pool.jsonl`; each file stays small enough to review)."""
    return folder / ("pool.jsonl" if batch == 1 else f"pool-batch{batch}.jsonl")


def pool_rows(folder: Path = FOLDER) -> list[dict]:
    """The pool's sentences, every batch, in id order."""
    files = [folder / "pool.jsonl", *sorted(folder.glob("pool-batch*.jsonl"), key=lambda f: int(f.stem[10:]))]
    return [row for file in files if file.is_file() for row in map(json.loads, file.open())]


def labelled(folder: Path = FOLDER) -> list[dict]:
    """The pool's sentences with their labels."""
    labels = {r["id"]: r for r in map(json.loads, (folder / "labels.jsonl").open())}
    return [{**row, **labels[row["id"]]} for row in pool_rows(folder) if row["id"] in labels]


def split(rows: list[dict]) -> dict[str, list[dict]]:
    """"tuned" (the batches the rules were fitted on; the first pool has no batch number) and "held out"."""
    held = [r.get("batch", 1) == HELD_OUT_BATCH for r in rows]
    return {"tuned": [r for r, h in zip(rows, held, strict=True) if not h],
            "held out": [r for r, h in zip(rows, held, strict=True) if h]}


def finder_flags(row: dict) -> bool:
    """Whether the finder calls the sentence an open question, read after the sentences before it (and, as the
    finder quotes only body prose, whether it is body prose)."""
    text = " ".join([*row["before"], row["text"]])
    passage = Passage(chunk_id=0, paper_id=row["paper"], title=row["title"], section=row["section"], page=None,
                      page_start=None, page_end=None, text=text, score=0.0)
    target = len(text) - len(row["text"])
    ends = dict(passage.sentence_spans())
    return is_body_prose(passage, row["text"]) and any(ends[start] > target for _, start in stated_gaps([passage]))


def scores(predicted: list[bool], gold: list[bool]) -> dict[str, float]:
    hits = sum(p and g for p, g in zip(predicted, gold, strict=True))
    precision = hits / sum(predicted) if any(predicted) else 0.0
    recall = hits / sum(gold) if any(gold) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "flagged": sum(predicted), "labelled": sum(gold)}


def type_scores(rows: list[dict]) -> dict[str, dict]:
    kinds = [sentence_type(r["text"]) for r in rows]
    table = {}
    for name in TYPES:
        flagged = [getattr(k, name) for k in kinds]
        gold = [r["type"] == name for r in rows]
        table[name] = scores(flagged, gold)
    return table


def run(on_item: Callable[[], None] | None = None, folder: Path = FOLDER) -> dict:
    """Every labelled sentence, always (a few seconds): a sample of a set this small would say little."""
    started = time.perf_counter()
    rows = labelled(folder)
    metrics, counts = {}, {}
    for part, members in split(rows).items():
        gold = [r["open"] != "none" for r in members]
        found = []
        for row in members:
            found.append(finder_flags(row))
            if on_item:
                on_item()
        metrics[f"finder ({part})"] = scores(found, gold)
        metrics[f"baseline-keyword ({part})"] = scores([bool(_GAP_KEYWORDS.search(r["text"])) for r in members],
                                                       gold)
        counts[part] = {"sentences": len(members), "papers": len({r["paper"] for r in members})}
    types = type_scores(split(rows)["held out"])
    metrics |= {f"type {name} (held out)": values for name, values in types.items()}
    return {"suite": "open-questions",
            "dataset": {"name": "hand-labelled sentences of the shared and held-out papers (evals/open_questions)",
                        "sampling": f"all labelled sentences; batch {HELD_OUT_BATCH} held out, the rest tuned on",
                        "parts": counts},
            "metrics": metrics, "timings": {"seconds": round(time.perf_counter() - started, 2)}, "items": []}


if __name__ == "__main__":
    print(json.dumps(run()["metrics"], indent=1))

