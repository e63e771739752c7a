"""`scisynth eval SUITE`: run a suite, print a Markdown table, write the JSON report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from agent.settings import Settings
from evals import scifact_retrieval
from evals.datasets import default_data_dir, ensure_scifact

SUITES = {"scifact-retrieval": "scifact"}


def markdown_table(report: dict) -> str:
    metrics = report["metrics"]
    names = [n for n in next(iter(metrics.values())) if not n.endswith("_ci95")]
    lines = ["| " + " | ".join(["variant", *names]) + " |", "|" + "---|" * (len(names) + 1)]
    lines += ["| " + " | ".join([variant, *(f"{values[n]:.4f}" for n in names)]) + " |"
              for variant, values in metrics.items()]
    return "\n".join(lines)


def run_suite(suite: str, settings: Settings, data_dir: Path | None = None, limit: int | None = None,
              corpus_limit: int | None = None, retriever: str = "all", out: Path | None = None,
              on_item: Callable[[], None] | None = None) -> dict:
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose one of: {', '.join(SUITES)}")
    data_dir = data_dir or default_data_dir(SUITES[suite]) or ensure_scifact(settings.home_dir)
    retrievers = scifact_retrieval.RETRIEVERS if retriever == "all" else (retriever,)
    report = scifact_retrieval.run(settings, data_dir, retrievers, corpus_limit=corpus_limit, limit=limit,
                                   on_item=on_item)
    if out:
        out.write_text(json.dumps(report, indent=2))
    return report
