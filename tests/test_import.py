"""Importing reference-manager exports: BibTeX and RIS written the way Zotero, Mendeley and JabRef write them
(braces, LaTeX accents, eprint/archivePrefix, file fields, missing fields), made here; arXiv through its replay
server, PDFs from ../shared/data/papers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent.importing import BibliographyImporter, metadata_document
from api.app import create_app
from tests.arxiv_replay import Fault, ReplayServer
from tests.conftest import PAPERS, finished_job, make_runtime
from tools.bibliography import BadEntry, BibliographyError, BibRecord, read_bibliography

ZOTERO_BIB = r"""% Exported by Zotero
@article{lo_s2orc_2020,
	title = {{S2ORC}: {The} {Semantic} {Scholar} {Open} {Research} {Corpus}},
	author = {Lo, Kyle and Wang, Lucy Lu and Neumann, Mark and Kinney, Rodney and Weld, Daniel S.},
	year = {2020},
	doi = {10.18653/v1/2020.acl-main.447},
	journal = {ACL},
	file = {Full Text PDF:PDF_PATH:application/pdf},
}

@misc{ammar_literature_2018,
	title = {Construction of the {Literature} {Graph} in {Semantic} {Scholar}},
	author = {Ammar, Waleed and Groeneveld, Dirk},
	year = {2018},
	eprint = {1605.08386},
	archivePrefix = {arXiv},
	primaryClass = {cs.CL},
}

@article{broken_entry,
	title = {A title whose brace never closes,
	year = {2019}

@article{muller_gait_2019,
	title = {Gait {Kinematics} after {Stroke} in {M}\"{u}nchen: a {\'E}tude of twenty adults},
	author = {M{\"u}ller, J{\"o}rg},
	journal = {J. Neuroeng. Rehabil.},
	year = {2019},
	abstract = {Stroke survivors walked slower and with shorter strides than matched controls.},
}

@book{no_title, author = {Nobody, A.}, year = {2001}}
"""

ENDNOTE_RIS = """TY  - JOUR
TI  - Measuring oral health impact in Dutch adults
AU  - van der Meulen, M. J.
AU  - John, M. T.
PY  - 2008///
DO  - https://doi.org/10.1186/1472-6831-8-11
AB  - The Dutch oral health impact profile was valid and reliable in adults.
ER  - {space}

TY  - JOUR
AU  - Nobody
ER  - {space}
""".format(space="")


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def _line(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def test_records_keep_identity_accents_and_files(tmp_path: Path) -> None:
    bib = tmp_path / "zotero.bib"
    bib.write_text(ZOTERO_BIB.replace("PDF_PATH", str(PAPERS / "acl_2020.acl-main.447.pdf")))
    records, skipped = read_bibliography(bib)
    assert [r.key for r in records] == ["lo_s2orc_2020", "ammar_literature_2018", "muller_gait_2019"]
    s2orc, graph, gait = records
    assert s2orc.title == "S2ORC: The Semantic Scholar Open Research Corpus"
    assert s2orc.doi == "10.18653/v1/2020.acl-main.447"
    assert s2orc.files == (PAPERS / "acl_2020.acl-main.447.pdf",) and s2orc.authors[1] == "Lucy Lu Wang"
    assert graph.arxiv_id == "1605.08386" and graph.line == _line(ZOTERO_BIB, "@misc{ammar")
    assert gait.title == "Gait Kinematics after Stroke in München: a Étude of twenty adults"
    assert gait.authors == ("Jörg Müller",) and gait.abstract.startswith("Stroke survivors")
    assert [(b.line, b.reason.split(":")[0]) for b in skipped] == [
        (_line(ZOTERO_BIB, "@article{broken"), "not a valid BibTeX entry"),
        (_line(ZOTERO_BIB, "@book{no_title"), "@book{no_title} has no title")]
    jabref = tmp_path / "jabref.bib"
    jabref.write_text("@inproceedings{x, title={T}, file={:papers/x.pdf:PDF}}\n@misc{y, title={U}, "
                      "journal={arXiv preprint arXiv:2104.12255}, file={:C$\\backslash$:/Users/me/y.pdf:pdf}}")
    x, y = read_bibliography(jabref)[0]
    assert x.files == (tmp_path / "papers" / "x.pdf",) and y.arxiv_id == "2104.12255"
    assert str(y.files[0]).replace("\\", "/").endswith("C:/Users/me/y.pdf")


def test_ris_records_and_bad_files(tmp_path: Path) -> None:
    ris = tmp_path / "endnote.ris"
    ris.write_text(ENDNOTE_RIS)
    [record], [bad] = read_bibliography(ris)
    assert (record.title, record.year, record.doi) == ("Measuring oral health impact in Dutch adults", 2008,
                                                       "10.1186/1472-6831-8-11")
    assert record.authors == ("van der Meulen, M. J.", "John, M. T.")
    assert bad.line == _line(ENDNOTE_RIS, "TY  - JOUR\nAU")
    notes = tmp_path / "notes.txt"
    notes.write_text("just some notes")
    empty, one_space = tmp_path / "empty.ris", tmp_path / "one-space.ris"
    empty.write_text("")
    one_space.write_text("TY - JOUR\nTI - A title\nER - \n")
    for path, message in [(notes, "neither BibTeX"), (tmp_path / "none.bib", "no such file"),
                          (empty, "no entries found")]:
        with pytest.raises(BibliographyError, match=message):
            read_bibliography(path)
    assert read_bibliography(one_space) == ([], [BadEntry(1, "no RIS record found (records start with 'TY  - ')")])
    latin1 = tmp_path / "latin1.bib"
    latin1.write_bytes("@misc{a, title={Caf\xe9}}".encode("latin-1"))
    with pytest.raises(BibliographyError, match="not UTF-8"):
        read_bibliography(latin1)


def test_papers_known_only_by_non_latin_titles_stay_apart() -> None:
    titles = ["基于图神经网络的分子性质预测", "Нейронные сети для предсказания свойств молекул", "Νευρωνικά δίκτυα"]
    ids = {metadata_document(BibRecord(f"k{i}", title, 1)).paper_id for i, title in enumerate(titles)}
    assert len(ids) == 3


def test_import_fetches_arxiv_reads_pdfs_keeps_references_and_is_idempotent(server: ReplayServer, tmp_path: Path,
                                                                             embedder) -> None:
    runtime = make_runtime(tmp_path / "home", embedder, use_arxiv=True, arxiv_api_url=f"{server.base}/api/query",
                           arxiv_pdf_url=f"{server.base}/pdf/", arxiv_delay_seconds=0,
                           allowed_fetch_hosts=f"http://127.0.0.1:{server.base.rsplit(':', 1)[1]}")
    bib = tmp_path / "zotero.bib"
    bib.write_text(ZOTERO_BIB.replace("PDF_PATH", str(PAPERS / "acl_2020.acl-main.447.pdf")))
    importer = BibliographyImporter(runtime.catalog, runtime.ingestor, runtime.fetcher)
    report = importer.import_file(bib)
    assert [r.status for r in report.results] == ["added"] * 3 and report.results[1].paper_id == "1605.08386"
    s2orc = runtime.catalog.find_paper(report.results[0].paper_id)  # the PDF read, under the entry's metadata
    assert s2orc.page_count == 15 and s2orc.doi == "10.18653/v1/2020.acl-main.447"
    assert s2orc.title == "S2ORC: The Semantic Scholar Open Research Corpus" and s2orc.year == 2020
    assert runtime.catalog.find_paper("1605.08386").source == "arxiv"
    gait = runtime.searcher.search("stroke survivors stride length", k=1)[0]
    assert gait.paper_id.startswith("bib:") and gait.text.startswith("Stroke survivors walked slower")
    requests = len(server.requests)
    again = importer.import_file(bib)
    assert [r.status for r in again.results] == ["unchanged"] * 3 and len(server.requests) == requests
    same_doi = tmp_path / "same-doi.ris"  # the S2ORC paper again, under a reworded title: known by its DOI
    same_doi.write_text("TY  - JOUR\nTI  - S2ORC, an open research corpus\n"
                        "DO  - 10.18653/V1/2020.acl-main.447\nER  - \n")
    assert [r.status for r in importer.import_file(same_doi).results] == ["unchanged"]


def test_a_reference_kept_while_arxiv_was_down_is_fetched_on_the_next_import(server: ReplayServer, tmp_path: Path,
                                                                              embedder) -> None:
    runtime = make_runtime(tmp_path / "home", embedder, use_arxiv=True, arxiv_api_url=f"{server.base}/api/query",
                           arxiv_pdf_url=f"{server.base}/pdf/", arxiv_delay_seconds=0,
                           allowed_fetch_hosts=f"http://127.0.0.1:{server.base.rsplit(':', 1)[1]}")
    runtime.fetcher.arxiv._client.attempts, runtime.fetcher.arxiv._client.max_wait = 1, 0.1
    bib = tmp_path / "one.bib"
    bib.write_text("@misc{ammar, title={Construction of the Literature Graph in Semantic Scholar}, "
                   "author={Ammar, Waleed}, eprint={1605.08386}, archivePrefix={arXiv}}")
    importer = BibliographyImporter(runtime.catalog, runtime.ingestor, runtime.fetcher)
    server.faults = [Fault(503)] * 5
    [kept] = importer.import_file(bib).results
    assert kept.status == "added" and kept.paper_id.startswith("bib:") and "arXiv unreachable" in kept.error
    server.faults = []
    [fetched] = importer.import_file(bib).results
    assert (fetched.status, fetched.paper_id) == ("added", "1605.08386")
    assert runtime.catalog.find_paper(kept.paper_id) is None  # the reference made way for the paper


def test_cli_import_without_arxiv_keeps_references_and_names_bad_entries(tmp_path: Path) -> None:
    bib = tmp_path / "zotero.bib"
    bib.write_text(ZOTERO_BIB.replace("PDF_PATH", str(tmp_path / "missing.pdf")))
    env = {**os.environ, "SCISYNTH_HOME": str(tmp_path / "home"), "SCISYNTH_USE_ARXIV": "false"}
    run = subprocess.run([sys.executable, "-m", "cli.main", "import", "--json", str(bib)], capture_output=True,
                         text=True, env=env, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["counts"] == {"added": 3, "unchanged": 0, "failed": 0}
    broken = _line(ZOTERO_BIB, "@article{broken")
    assert [s["line"] for s in report["skipped"]] == [broken, _line(ZOTERO_BIB, "@book{no_title")]
    assert f"{bib}:{broken}: skipped: not a valid BibTeX entry" in run.stderr
    assert report["results"][1]["paper_id"].startswith("bib:")  # arXiv off: the arXiv entry is kept as a reference


def test_api_import_is_a_job_that_names_skipped_entries_and_never_reads_server_paths(tmp_path: Path,
                                                                                   embedder) -> None:
    runtime = make_runtime(tmp_path / "home", embedder)
    # A hostile export: its `file` field names a PDF on the server. Only the uploader's machine is meant.
    bib = ZOTERO_BIB.replace("PDF_PATH", str(PAPERS / "acl_2020.acl-main.447.pdf"))
    with TestClient(create_app(runtime=runtime)) as client:
        job = client.post("/v1/papers/import", files={"file": ("my library.bib", bib.encode())})
        assert job.status_code == 202, job.text
        state = finished_job(client, job.json())
        assert state["status"] == "done"
        statuses = [(r["status"], r["path"]) for r in state["results"]]
        broken, untitled = _line(ZOTERO_BIB, "@article{broken"), _line(ZOTERO_BIB, "@book{no_title")
        assert statuses == [("added", f"my library.bib:{_line(ZOTERO_BIB, '@article{lo_')}"),
                            ("added", f"my library.bib:{_line(ZOTERO_BIB, '@misc{ammar')}"),
                            ("added", f"my library.bib:{_line(ZOTERO_BIB, '@article{muller')}"),
                            ("skipped", f"my library.bib:{broken}"), ("skipped", f"my library.bib:{untitled}")]
        s2orc = runtime.catalog.find_paper(state["results"][0]["paper_id"])
        assert s2orc.source == "bibliography" and s2orc.page_count in (0, None)  # the reference, not the PDF
        assert "upload the PDF" in state["results"][0]["error"]
        assert not list((runtime.settings.storage.papers_dir / "imports").iterdir())  # the export is not kept
        again = finished_job(client, client.post("/v1/papers/import", files={"file": ("x.bib", bib.encode())}).json())
        assert [r["status"] for r in again["results"]][:3] == ["unchanged"] * 3
        refused = client.post("/v1/papers/import", files={"file": ("notes.txt", b"just notes")})
        assert refused.status_code == 422 and "neither BibTeX" in refused.json()["detail"], refused.text
        assert str(runtime.settings.storage.papers_dir) not in refused.text
        # Entries are read by the job (a bounded child process), never while the request waits.
        unreadable = finished_job(client, client.post("/v1/papers/import", files={
            "file": ("bad.bib", b"@book{no_title, year={2001}}")}).json())
        assert unreadable["status"] == "failed" and "no entry of bad.bib" in unreadable["error"], unreadable
        assert str(runtime.settings.storage.papers_dir) not in json.dumps(unreadable)
        assert client.post("/v1/papers/import", json={"file": "x"}).status_code in (400, 422)
