"""`scisynth eval SUITE`: run a suite, print a Markdown table (baselines as rows beside the system's own),
write the JSON report; `eval quick` runs seeded, stratified subsets of every suite and checks them
against evals/thresholds.toml (what CI runs).

A threshold is a floor (`accuracy = 0.5`) or a comparison with another row of the same table
(`macro_f1 = {above = "baseline-majority"}`, optionally with a `margin`): a system that does no better
than its baseline fails the gate whatever the absolute number.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from agent.settings import Settings
from evals import (
    abstention,
    citations,
    hypotheses,
    open_questions,
    pdf_structure,
    pubmedqa,
    scifact_retrieval,
    scifact_verify,
    tables,
)
from evals.datasets import default_data_dir, ensure_pubmedqa, ensure_scifact, eval_home
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import Embedder, load_embedder

# suite -> (dataset folder, runner taking settings, data dir, limit, corpus_limit, variant, embedder, progress);
# the variant names the retrievers (scifact-retrieval) or PDF readers (pdf-structure) to score, or "all".
SUITES: dict[str, tuple[str, Callable[..., dict]]] = {
    "scifact-retrieval": ("scifact", lambda s, d, limit, corpus, variant, e, tick: scifact_retrieval.run(
        s, d, scifact_retrieval.RETRIEVERS if variant == "all" else (variant,), corpus_limit=corpus,
        limit=limit, embedder=e, on_item=tick)),
    "scifact-verify": ("scifact", lambda s, d, limit, corpus, _r, e, tick: scifact_verify.run(
        s, d, limit=limit, corpus_limit=corpus, embedder=e, on_item=tick)),
    "pubmedqa": ("pubmedqa", lambda s, d, limit, _c, _r, e, tick: pubmedqa.run(s, d, limit=limit, embedder=e,
                                                                               on_item=tick)),
    "citations": ("pubmedqa", lambda s, d, limit, corpus, _r, e, tick: citations.run(
        s, d, limit=limit, embedder=e, on_item=tick, corpus_limit=corpus)),
    "abstention": ("pubmedqa", lambda s, d, limit, _c, _r, e, tick: abstention.run(s, d, limit=limit, embedder=e,
                                                                                   on_item=tick)),
    "hypotheses": ("pubmedqa", lambda s, d, limit, _c, _r, e, tick: hypotheses.run(s, d, limit=limit, embedder=e,
                                                                                   on_item=tick)),
    "pdf-structure": ("pdf-corpus", lambda _s, d, limit, _c, variant, _e, tick: pdf_structure.run(
        d, pdf_structure.readers(variant), limit=limit, on_item=tick)),
    # SciFact, PubMedQA and the shared papers: it finds each folder itself (under --data-dir when given)
    "tables": ("", lambda s, d, limit, corpus, _v, e, tick: tables.run(
        s, lambda name: shared_folder(name, s, d), limit=limit, corpus_limit=corpus, embedder=e, on_item=tick)),
    # its hand-labelled sentences are in the repository (evals/open_questions): no dataset folder
    "open-questions": ("", lambda _s, _d, _limit, _c, _v, _e, tick: open_questions.run(on_item=tick)),
}
WITHOUT_EMBEDDINGS = {"pdf-structure", "open-questions"}
# The subsets `eval quick` runs in CI: seeded, stratified samples, minutes not hours.
QUICK = {"scifact-retrieval": {"limit": 100, "corpus_limit": 1000},
         "scifact-verify": {"limit": 100, "corpus_limit": 1000},
         "pubmedqa": {"limit": 100}, "citations": {"limit": 20, "corpus_limit": 1000}, "hypotheses": {"limit": 3},
         "pdf-structure": {"variant": "quick"}, "open-questions": {}, "tables": {"limit": 100, "corpus_limit": 1000}}
THRESHOLDS = Path(__file__).with_name("thresholds.toml")


def markdown_table(report: dict) -> str:
    metrics = report["metrics"]
    names = list(dict.fromkeys(n for values in metrics.values() for n in values if not n.endswith("_ci95")))
    lines = ["| " + " | ".join(["variant", *names]) + " |", "|" + "---|" * (len(names) + 1)]
    for variant, values in metrics.items():
        cells = [f"{values[n]:.4f}" if isinstance(values.get(n), float) else str(values.get(n, "")) for n in names]
        lines.append("| " + " | ".join([variant, *cells]) + " |")
    if report.get("curve_dev"):
        lines += ["", "Trade-off on the dev split (shipped weights):", "",
                  "| threshold | answered | abstained |", "|---|---|---|"]
        lines += [f"| {p['threshold']:.2f} | {p['answered']:.4f} | {p['abstained']:.4f} |" for p in report["curve_dev"]]
    return "\n".join(lines)


def shared_embedder(settings: Settings) -> Embedder:
    """One embedding cache for every eval library, so a library built twice (with and without the gold
    abstracts) embeds each text once: SCISYNTH_CACHE's when it is set (shared with other libraries, the tests'
    in CI), else one in the eval home."""
    folder = settings.storage.cache_dir if settings.storage.cache.strip() else eval_home(settings)
    return CachedEmbedder(load_embedder(settings.retrieval.embeddings, folder), folder / "embeddings.sqlite")


def run_suite(suite: str, settings: Settings, data_dir: Path | None = None, limit: int | None = None,
              corpus_limit: int | None = None, variant: str = "all", out: Path | None = None,
              on_item: Callable[[], None] | None = None, embedder: Embedder | None = None) -> dict:
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose one of: {', '.join(SUITES)}")
    folder, runner = SUITES[suite]
    if folder:
        data_dir = data_dir or default_data_dir(folder) or _download(folder, settings)
    embedder = embedder or (shared_embedder(settings) if suite not in WITHOUT_EMBEDDINGS else None)
    report = runner(settings, data_dir, limit, corpus_limit, variant, embedder, on_item)
    if out:
        out.write_text(json.dumps(report, indent=2))
    return report


def shared_folder(name: str, settings: Settings, root: Path | None) -> Path:
    """A shared data folder: under `root` (--data-dir) when given, else beside the project, else downloaded
    (SciFact, PubMedQA); "" is the shared data folder itself."""
    if root is not None:
        return root / name
    found = default_data_dir(name)
    if found is None and name in ("scifact", "pubmedqa"):
        return _download(name, settings)
    if found is None:
        raise FileNotFoundError(f"no ../shared/data/{name} beside the project: give the shared data folder with "
                                "--data-dir")
    return found


def _download(folder: str, settings: Settings) -> Path:
    if folder == "pdf-corpus":  # its gold is hand-made: there is no public copy to fetch
        raise FileNotFoundError("pdf-structure reads ../shared/data/pdf-corpus (real PDFs with hand-made gold); "
                                "give its folder with --data-dir")
    return (ensure_scifact if folder == "scifact" else ensure_pubmedqa)(settings.storage.home_dir)


def check(reports: list[dict], thresholds: dict) -> list[str]:
    """Every metric that misses its threshold, as 'suite / variant / metric: value < floor' (or '< row')."""
    failures = []
    for report in reports:
        for variant, limits in thresholds.get(report["suite"], {}).items():
            for metric, rule in limits.items():
                value = report["metrics"].get(variant, {}).get(metric)
                where = f"{report['suite']} / {variant} / {metric}"
                floor = rule.get("floor") if isinstance(rule, dict) else rule
                if value is None or (floor is not None and value < floor):
                    failures.append(f"{where}: {value} < {floor}")
                if isinstance(rule, dict) and "above" in rule:
                    other, margin = rule["above"], rule.get("margin", 0.0)
                    bar = report["metrics"].get(other, {}).get(metric)
                    if value is None or bar is None or value <= bar + margin:
                        failures.append(f"{where}: {value} is not above {other} ({bar}"
                                        f"{f' + {margin}' if margin else ''})")
    return failures


def run_quick(settings: Settings, on_item: Callable[[], None] | None = None) -> tuple[list[dict], list[str]]:
    """Every suite on its quick subset, each report with the wall time it took (`timings.suite_seconds`: where CI
    time goes), and the thresholds they fall below."""
    embedder = shared_embedder(settings)
    reports = []
    for suite, options in QUICK.items():
        started = time.perf_counter()
        report = run_suite(suite, settings, on_item=on_item, embedder=embedder, **options)
        report.setdefault("timings", {})["suite_seconds"] = round(time.perf_counter() - started, 1)
        reports.append(report)
    return reports, check(reports, tomllib.loads(THRESHOLDS.read_text()))
