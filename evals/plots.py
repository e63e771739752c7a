"""Figures where a table is hard to read (matplotlib, written as PNG): the abstention trade-off curve, and any
benchmark table's numbers as bars."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = re.fullmatch(r"\s*([-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?)\s*(?:%|x|s|ms)?\s*", str(value))
    return float(match.group(1).replace(",", "")) if match else None


def _save(figure: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path)
    _pyplot().close(figure)


def table_figure(headers: list[str], rows: list[list[object]], path: Path, title: str = "") -> bool:
    """The table's numeric columns as horizontal bars, one panel per column, rows labelled by the first column;
    False (nothing written) when no column holds a number."""
    columns = [i for i in range(1, len(headers)) if any(_number(row[i]) is not None for row in rows)]
    if not columns or not rows:
        return False
    plt = _pyplot()
    labels = [str(row[0])[:60] for row in rows]
    figure, axes = plt.subplots(1, len(columns), figsize=(4 + 3.2 * len(columns), 1.2 + 0.45 * len(rows)),
                                squeeze=False, sharey=True)
    for panel, column in zip(axes[0], columns, strict=True):
        values = [_number(row[column]) for row in rows]
        panel.barh(range(len(rows)), [v or 0.0 for v in values], color="#2f5bea")
        for y, value in enumerate(values):
            if value is not None:
                panel.annotate(f"{value:g}", (value, y), xytext=(3, 0), textcoords="offset points", va="center",
                               fontsize=8)
        panel.set_title(headers[column], fontsize=9)
        panel.set_yticks(range(len(rows)), labels, fontsize=8)
        panel.invert_yaxis()
    if title:
        figure.suptitle(title, fontsize=10)
    _save(figure, path)
    return True


def abstention_figure(report: dict, path: Path) -> None:
    """The trade-off the answerability threshold makes (dev split): questions answered with their evidence present
    against questions abstained on with it removed, the shipped threshold marked, the test split's points beside."""
    plt = _pyplot()
    curve = report["curve_dev"]
    figure, axes = plt.subplots(figsize=(7, 5.5))
    axes.plot([p["answered"] for p in curve], [p["abstained"] for p in curve], marker="o", color="#2f5bea",
              label="shipped rule, dev split, by threshold")
    for point in curve[::3]:
        axes.annotate(f"{point['threshold']:.2f}", (point["answered"], point["abstained"]), xytext=(4, 4),
                      textcoords="offset points", fontsize=8)
    markers = {"test-shipped": ("*", "#e8590c"), "test-refit-on-dev": ("D", "#2b8a3e"),
               "test-baseline-similarity-alone": ("s", "#868e96"), "test-baseline-coverage-alone": ("^", "#868e96")}
    for name, (marker, colour) in markers.items():
        if name in report["metrics"]:
            found = report["metrics"][name]
            axes.scatter(found["answered"], found["abstained"], marker=marker, s=90, color=colour, zorder=3,
                         label=f"{name.removeprefix('test-')} (test, AUC {found['auc']:.2f})")
    axes.set_xlabel("answered when the evidence is in the library")
    axes.set_ylabel("abstained when it is not")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize=8)
    axes.set_title(f"Answer or abstain: {report['dataset']['name']}", fontsize=10)
    _save(figure, path)
