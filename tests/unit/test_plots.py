"""Figures: a benchmark table's numbers as bars, the abstention trade-off curve, and `show` writing a table's
figure only when asked."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from evals.plots import abstention_figure, table_figure
from evals.report import show


def _png_size(path: Path) -> tuple[int, int]:
    picture = pymupdf.Pixmap(str(path))
    return picture.width, picture.height


def test_a_table_with_numbers_becomes_bars_and_one_without_draws_nothing(tmp_path: Path) -> None:
    rows = [["bm25", "0.512", "12 ms", "1,204"], ["dense", 0.61, "8 ms", "980"], ["hybrid", "0.66", "n/a", "1,010"]]
    assert table_figure(["retriever", "nDCG@10", "p50", "papers"], rows, tmp_path / "t.png", "retrieval")
    width, height = _png_size(tmp_path / "t.png")
    assert width > 600 and height > 100
    assert not table_figure(["paper", "reader"], [["a", "fonts"], ["b", "layout model"]], tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_the_abstention_curve(tmp_path: Path) -> None:
    report = {"dataset": {"name": "PubMedQA"}, "curve_dev": [
        {"threshold": t / 10, "answered": 1 - t / 12, "abstained": t / 10} for t in range(1, 10)],
        "metrics": {"test-shipped": {"answered": 0.93, "abstained": 0.94, "auc": 0.97}}}
    abstention_figure(report, tmp_path / "curve.png")
    assert _png_size(tmp_path / "curve.png") == (700, 550)


def test_show_draws_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.argv", ["benchmarks/bench_demo.py"])
    monkeypatch.delenv("SCISYNTH_PLOTS", raising=False)
    show(["step", "seconds"], [["parse", 1.5]])
    assert "| parse | 1.500 |" in capsys.readouterr().out and not list(tmp_path.iterdir())
    monkeypatch.setenv("SCISYNTH_PLOTS", str(tmp_path))
    show(["step", "seconds"], [["parse", 1.5]])
    assert [p.name for p in tmp_path.iterdir()] == ["bench_demo-1.png"]
