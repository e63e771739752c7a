"""`scisynth eval SUITE`: run a suite, print a Markdown table, write the JSON report; `eval quick` runs
small subsets of every suite and checks them against evals/thresholds.toml (what CI runs)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

from agent.settings import Settings
from evals import citations, hypotheses, pubmedqa, scifact_retrieval, scifact_verify
from evals.datasets import default_data_dir, ensure_pubmedqa, ensure_scifact

# suite -> (dataset folder, runner taking settings, data dir, limit, corpus_limit, retriever, progress)
SUITES: dict[str, tuple[str, Callable[..., dict]]] = {
    "scifact-retrieval": ("scifact", lambda s, d, limit, corpus, retriever, tick: scifact_retrieval.run(
        s, d, scifact_retrieval.RETRIEVERS if retriever == "all" else (retriever,), corpus_limit=corpus,
        limit=limit, on_item=tick)),
    "scifact-verify": ("scifact", lambda s, d, limit, corpus, _r, tick: scifact_verify.run(
        s, d, limit=limit, corpus_limit=corpus, on_item=tick)),
    "pubmedqa": ("pubmedqa", lambda s, d, limit, _c, _r, tick: pubmedqa.run(s, d, limit=limit, on_item=tick)),
    "citations": ("pubmedqa", lambda s, d, limit, _c, _r, tick: citations.run(s, d, limit=limit, on_item=tick)),
    "hypotheses": ("pubmedqa", lambda s, d, limit, _c, _r, tick: hypotheses.run(s, d, limit=limit, on_item=tick)),
}
# The subsets `eval quick` runs in CI: minutes, not hours.
QUICK = {"scifact-retrieval": {"corpus_limit": 500}, "scifact-verify": {"corpus_limit": 500},
         "pubmedqa": {"limit": 100}, "citations": {"limit": 10}, "hypotheses": {"limit": 3}}
THRESHOLDS = Path(__file__).with_name("thresholds.toml")


def markdown_table(report: dict) -> str:
    metrics = report["metrics"]
    names = list(dict.fromkeys(n for values in metrics.values() for n in values if not n.endswith("_ci95")))
    lines = ["| " + " | ".join(["variant", *names]) + " |", "|" + "---|" * (len(names) + 1)]
    for variant, values in metrics.items():
        cells = [f"{values[n]:.4f}" if isinstance(values.get(n), float) else str(values.get(n, "")) for n in names]
        lines.append("| " + " | ".join([variant, *cells]) + " |")
    return "\n".join(lines)


def run_suite(suite: str, settings: Settings, data_dir: Path | None = None, limit: int | None = None,
              corpus_limit: int | None = None, retriever: str = "all", out: Path | None = None,
              on_item: Callable[[], None] | None = None) -> dict:
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose one of: {', '.join(SUITES)}")
    folder, runner = SUITES[suite]
    download = ensure_scifact if folder == "scifact" else ensure_pubmedqa
    data_dir = data_dir or default_data_dir(folder) or download(settings.home_dir)
    report = runner(settings, data_dir, limit, corpus_limit, retriever, on_item)
    if out:
        out.write_text(json.dumps(report, indent=2))
    return report


def check(reports: list[dict], thresholds: dict) -> list[str]:
    """Every metric below its threshold, as 'suite / variant / metric: value < threshold'."""
    failures = []
    for report in reports:
        for variant, limits in thresholds.get(report["suite"], {}).items():
            for metric, floor in limits.items():
                value = report["metrics"].get(variant, {}).get(metric)
                if value is None or value < floor:
                    failures.append(f"{report['suite']} / {variant} / {metric}: {value} < {floor}")
    return failures


def run_quick(settings: Settings, on_item: Callable[[], None] | None = None) -> tuple[list[dict], list[str]]:
    reports = [run_suite(suite, settings, on_item=on_item, **options) for suite, options in QUICK.items()]
    return reports, check(reports, tomllib.loads(THRESHOLDS.read_text()))
