"""References out: stable keys, and BibTeX, RIS and CSL-JSON that round-trip through the libraries reference
managers use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import bibtexparser
import rispy
from bibtexparser import middlewares

from tests.conftest import PAPERS
from tools.citation_export import ExportPaper, export, keyed

PAPERS_OUT = [
    ExportPaper("sha256:a", "SPECTER: Document-level Representation Learning", ("Arman Cohan", "Sergey Feldman"),
                2020, None, "2004.07180", "https://arxiv.org/abs/2004.07180"),
    ExportPaper("doi:10.1/x", "Gait after stroke in München", ("Müller, Jörg",), 2019, "10.1000/x"),
    ExportPaper("doi:10.1/y", "Gait after stroke: a second look", ("Jörg Müller", "World Health Organization"), 2019,
                "10.1000/y"),
    ExportPaper("bib:1", "On the {braces} & 100% of $math$ in x_1 titles #2 ~ \\", (), None),
]


def test_keys_are_stable_and_collisions_get_a_suffix_from_the_paper_id() -> None:
    keys = [key for key, _ in keyed(PAPERS_OUT)]
    assert keys[0] == "cohan2020specter" and keys[3] == "anonndbraces"
    assert keys[1].startswith("muller2019gait-") and keys[2].startswith("muller2019gait-") and keys[1] != keys[2]
    assert [key for key, _ in keyed(list(reversed(PAPERS_OUT)))] == list(reversed(keys))  # order does not matter
    # A paper exported alone keeps the key it has in the whole library's export.
    assert keyed([PAPERS_OUT[1]], PAPERS_OUT) == [(keys[1], PAPERS_OUT[1])]


def test_every_format_round_trips() -> None:
    text = export(PAPERS_OUT, "bibtex")
    assert r"\& 100\% of \$math\$ in x\_1 titles \#2" in text  # LaTeX-safe
    assert r"x\textasciicircum{}2" in export([ExportPaper("p", "x^2", (), None)], "bibtex")
    library = bibtexparser.parse_string(text, append_middleware=[middlewares.LatexDecodingMiddleware()])
    assert not library.failed_blocks
    entries = {entry.key: entry for entry in library.entries}
    assert entries["cohan2020specter"]["eprint"] == "2004.07180"
    assert entries["cohan2020specter"]["author"] == "Cohan, Arman and Feldman, Sergey"
    assert [e["title"] for e in library.entries] == [p.title for p in PAPERS_OUT]
    ris = rispy.loads(export(PAPERS_OUT, "ris"))
    assert [(r["title"], r.get("doi")) for r in ris] == [(p.title, p.doi) for p in PAPERS_OUT]
    csl = json.loads(export(PAPERS_OUT, "csl-json"))
    assert csl[2]["author"] == [{"family": "Müller", "given": "Jörg"}, {"family": "Organization",
                                                                        "given": "World Health"}]
    assert csl[0]["issued"] == {"date-parts": [[2020]]} and "issued" not in csl[3]


def test_cli_exports_the_library(tmp_path: Path) -> None:
    env = {**os.environ, "SCISYNTH_HOME": str(tmp_path / "home"), "SCISYNTH_USE_ARXIV": "false"}

    def scisynth(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env,
                              cwd=Path(__file__).resolve().parents[1], timeout=300)

    assert scisynth("ingest", str(PAPERS / "acl_N18-3011.pdf")).returncode == 0
    out = tmp_path / "library.bib"
    run = scisynth("export", "--format", "bibtex", "-o", str(out))
    assert run.returncode == 0 and "1 references written" in run.stderr
    [entry] = bibtexparser.parse_string(out.read_text()).entries
    assert entry["title"] == "{Construction of the Literature Graph in Semantic Scholar}"
    unwritable = scisynth("export", "-o", str(tmp_path / "no" / "such" / "dir.bib"))
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr
    missing = scisynth("export", "--conversation", "nope")
    assert missing.returncode == 2 and "no conversation 'nope'" in missing.stderr
