"""The console script as a user runs it: separate processes, a temporary home, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PAPERS


def scisynth(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SCISYNTH_HOME": str(home), "SCISYNTH_LLM": "extractive", "SCISYNTH_USE_ARXIV": "false"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1], timeout=300)


def test_bad_files_fail_with_one_line_each_and_leave_nothing_behind(tmp_path: Path) -> None:
    home = tmp_path / "home"
    not_pdf = tmp_path / "notes.pdf"
    not_pdf.write_text("these are notes, not a PDF")
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes((PAPERS / "acl_N18-3011.pdf").read_bytes()[:3000])
    run = scisynth(home, "ingest", "--json", str(not_pdf), str(truncated), str(tmp_path / "missing.pdf"))
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("scisynth: cannot ingest")]
    assert len(errors) == 3
    assert f"{not_pdf}: not a PDF" in errors[0]
    assert "missing.pdf: no such file" in errors[2]
    assert {r["status"] for r in json.loads(run.stdout)["results"]} == {"failed"}
    assert not list((home / "index").glob("*"))  # nothing half-written to the index


def test_ingest_search_ask_round_trip(tmp_path: Path) -> None:
    home = tmp_path / "home"
    empty = scisynth(home, "ask", "--json", "What is SPECTER?")
    assert empty.returncode == 0
    assert "library is empty" in json.loads(empty.stdout)["answer"]

    added = scisynth(home, "ingest", str(PAPERS / "acl_2020.acl-main.207.pdf"))
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added")

    search = json.loads(scisynth(home, "search", "--json", "-k", "3", "citation-informed transformer").stdout)
    assert len(search["results"]) == 3
    assert set(search["results"][0]) >= {"paper_id", "title", "section", "page", "score", "text"}

    asked = json.loads(scisynth(home, "ask", "--json", "How is SPECTER pretrained?").stdout)
    assert set(asked) >= {"answer", "citations", "hypotheses", "conversation_id", "trace"}
    assert asked["citations"] and all(c["quote"] for c in asked["citations"])


def test_help_lists_the_commands() -> None:
    run = subprocess.run([sys.executable, "-m", "cli.main", "--help"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    for command in ("serve", "ingest", "search", "ask"):
        assert command in run.stdout


def test_models_pull_offline_says_where_to_put_the_file(tmp_path: Path) -> None:
    env = {**os.environ, "SCISYNTH_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "cli.main", "models", "pull"], capture_output=True, text=True,
                         env=env, cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert run.returncode == 2
    assert f"place it at {tmp_path / 'models' / 'qwen2.5-1.5b-instruct-q4_k_m.gguf'}" in run.stderr


def test_a_folder_with_parses_of_its_pdfs_ingests_cleanly(tmp_path: Path) -> None:
    """The first README example: three PDFs and GROBID parses of two of them; the parses are the same papers."""
    run = scisynth(tmp_path / "home", "ingest", "--json", str(PAPERS))
    assert run.returncode == 0, run.stderr
    counts = json.loads(run.stdout)["counts"]
    assert counts == {"added": 3, "unchanged": 2, "failed": 0}


def test_a_folder_with_an_unreadable_file_still_exits_0_but_a_named_one_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "good.pdf").write_bytes((PAPERS / "acl_N18-3011.pdf").read_bytes())
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    in_folder = scisynth(tmp_path / "home", "ingest", str(folder))
    assert in_folder.returncode == 0 and "cannot ingest" in in_folder.stderr and "broken.pdf" in in_folder.stderr
    named = scisynth(tmp_path / "home", "ingest", str(folder / "broken.pdf"))
    assert named.returncode == 2


def test_help_groups_commands_by_task_with_examples() -> None:
    run = subprocess.run([sys.executable, "-m", "cli.main", "--help"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    for group in ("library:", "asking:", "service:", "evaluation:"):
        assert group in run.stdout
    assert run.stdout.count("e.g. scisynth ") >= 14


def test_a_reader_that_stops_early_is_not_an_error(tmp_path: Path) -> None:
    """`scisynth library | head`: the reader is gone before the output is written; no traceback, status 0."""
    env = {**os.environ, "SCISYNTH_HOME": str(tmp_path / "home"), "SCISYNTH_USE_ARXIV": "false"}
    errors = tmp_path / "stderr.txt"
    run = subprocess.run(["bash", "-o", "pipefail", "-c", f"{sys.executable} -m cli.main library 2>{errors} | true"],
                         env=env, cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert run.returncode == 0 and errors.read_text() == ""
