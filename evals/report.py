"""Tables as the eval runner, the research scripts and the benchmarks print them (Markdown)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table; floats with three decimals."""
    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


_figures: dict[str, int] = {}


def show(headers: list[str], rows: list[list[object]], title: str = "") -> None:
    """Print the table; with SCISYNTH_PLOTS=FOLDER (`python -m benchmarks --plot FOLDER`) also draw its numbers as
    FOLDER/<script>-<n>.png."""
    print(table(headers, rows), flush=True)
    folder = os.environ.get("SCISYNTH_PLOTS")
    if not folder:
        return
    from evals.plots import table_figure

    script = Path(sys.argv[0]).name.removesuffix(".py").rsplit(".", 1)[-1]
    _figures[script] = _figures.get(script, 0) + 1
    path = Path(folder) / f"{script}-{_figures[script]}.png"
    if table_figure(headers, rows, path, title or script):
        print(f"(figure: {path})", flush=True)
