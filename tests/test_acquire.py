"""Safe downloads against a real HTTP server on 127.0.0.1, and `fetch` into the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.embeddings import Embedder
from tests.arxiv_replay import ReplayServer
from tests.conftest import PAPERS, ROOT, make_runtime
from tools.acquire import DownloadError, FetchPolicy, FetchRefusedError, download_pdf

PDF = (PAPERS / "acl_N18-3011.pdf").read_bytes()


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        replay.pdf_routes.update({
            "good": (200, {"Content-Type": "application/pdf"}, PDF),
            "html": (200, {"Content-Type": "text/html"}, b"<html>Please log in</html>"),
            "huge": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.5\n" + b"0" * 300_000),
            "truncated": (200, {"Content-Length": str(len(PDF))}, PDF[:20_000]),
            "away": (302, {"Location": "http://example.org/paper.pdf"}, b""),
            "hop": (302, {"Location": "/pdf/good"}, b""),
        })
        yield replay


def policy(server: ReplayServer) -> FetchPolicy:
    return FetchPolicy.from_hosts([f"http://127.0.0.1:{server.base.rsplit(':', 1)[1]}"])


def test_pdf_from_an_allowed_host(server: ReplayServer, tmp_path: Path) -> None:
    target = tmp_path / "papers" / "good.pdf"
    downloaded = download_pdf(f"{server.base}/pdf/hop", target, policy(server))
    assert target.read_bytes() == PDF and downloaded.size == len(PDF)
    import hashlib
    assert downloaded.sha256 == hashlib.sha256(PDF).hexdigest()


@pytest.mark.parametrize(("route", "error", "message"), [
    ("away", FetchRefusedError, "host example.org is not allowed"),
    ("html", DownloadError, "not a PDF"),
    ("huge", DownloadError, "limit"),
    ("truncated", DownloadError, "truncated"),
])
def test_refused_downloads_leave_nothing(server: ReplayServer, tmp_path: Path, route: str, error: type,
                                         message: str) -> None:
    folder = tmp_path / "papers"
    with pytest.raises(error, match=message):
        download_pdf(f"{server.base}/pdf/{route}", folder / "paper.pdf", policy(server), max_bytes=200_000)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_host_rules() -> None:
    arxiv_only = FetchPolicy()
    with pytest.raises(FetchRefusedError, match="not allowed"):
        arxiv_only.check("https://evil.example.com/x.pdf")
    with pytest.raises(FetchRefusedError, match="not allowed for http"):
        arxiv_only.check("http://arxiv.org/pdf/1605.08386")
    with pytest.raises(FetchRefusedError, match="only http"):
        arxiv_only.check("file:///etc/passwd")
    with pytest.raises(FetchRefusedError, match="not allowed"):
        arxiv_only.check("http://127.0.0.1:8000/pdf/x")
    with pytest.raises(FetchRefusedError, match="internal address"):
        FetchPolicy.from_hosts(["localhost"]).check("https://localhost/x.pdf")


def test_fetch_ingests_pdf_and_falls_back_to_the_abstract(server: ReplayServer, tmp_path: Path,
                                                          embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder, arxiv_api_url=f"{server.base}/api/query",
                           arxiv_pdf_url=f"{server.base}/pdf/", arxiv_delay_seconds=0,
                           allowed_fetch_hosts=f"http://127.0.0.1:{server.base.rsplit(':', 1)[1]}")
    results = runtime.fetcher.fetch(["1605.08386"]) + runtime.fetcher.fetch(["0808.05394", "1707.08567"])
    assert [(r.status, r.paper_id) for r in results] == [
        ("added", "1605.08386"), ("failed", "0808.05394"), ("added", "1707.08567")]
    with_pdf = runtime.catalog.find_paper("1605.08386")
    assert with_pdf.source == "arxiv" and with_pdf.page_count == 8 and with_pdf.url.endswith("1605.08386v1")
    assert results[0].error is None
    assert results[1].error == "not found on arXiv"
    assert "abstract only" in results[2].error  # the replay server has no PDF for it
    hit = runtime.searcher.search("literature graph entity linking", k=1)[0]
    assert hit.paper_id == "1605.08386" and hit.page is not None


def test_cli_arxiv_and_fetch_against_the_replay_server(server: ReplayServer, tmp_path: Path) -> None:
    env = {**os.environ, "SCISYNTH_HOME": str(tmp_path), "SCISYNTH_ARXIV_API_URL": f"{server.base}/api/query",
           "SCISYNTH_ARXIV_PDF_URL": f"{server.base}/pdf/", "SCISYNTH_ARXIV_DELAY_SECONDS": "0",
           "SCISYNTH_ALLOWED_FETCH_HOSTS": f"http://127.0.0.1:{server.base.rsplit(':', 1)[1]}"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=300)

    found = run("arxiv", "--json", "--max", "10", "all:electron AND all:proton")
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)["results"]
    assert len(results) == 10 and results[0]["arxiv_id"] == "nucl-ex/0408020v1"
    fetched = run("fetch", "--json", "2104.12255v1")
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(fetched.stdout)["results"][0]["status"] == "added"
    bad = run("fetch", "abc")
    assert bad.returncode == 2 and "abc: not an arXiv id" in bad.stderr


def test_check_with_arxiv_reads_the_papers_the_library_lacks_first(server: ReplayServer, tmp_path: Path) -> None:
    """`scisynth check --arxiv`: arXiv is searched for the claim, the paper it finds is read into the library
    (its PDF, from the replay server), and the check quotes it with its page; arXiv failing leaves the check to
    the library and says so."""
    from agent.papers import arxiv_query
    from tests.arxiv_replay import RECORDED, Fault

    claim = "Entity linking in the literature graph of Semantic Scholar reaches a high F1"
    record = json.loads(next((RECORDED / "arxiv-py").glob("id_1605.08386_*.json")).read_text())
    server.responses[("q", arxiv_query(claim), "0", "5")] = (200, record["body"].encode())
    env = {**os.environ, "SCISYNTH_HOME": str(tmp_path), "SCISYNTH_ARXIV_API_URL": f"{server.base}/api/query",
           "SCISYNTH_ARXIV_PDF_URL": f"{server.base}/pdf/", "SCISYNTH_ARXIV_DELAY_SECONDS": "0",
           "SCISYNTH_ALLOWED_FETCH_HOSTS": f"http://127.0.0.1:{server.base.rsplit(':', 1)[1]}",
           "SCISYNTH_LLM": "extractive"}

    def check(*args: str, claim: str = claim) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli.main", "check", claim, "--json", *args],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)

    read = check("--arxiv")  # into an empty library
    assert read.returncode == 0, read.stderr
    result = json.loads(read.stdout)
    assert "arXiv: 1 result, 1 not in the library; read into it: 1605.08386" in result["trace"][0]
    paper = next(p for p in result["papers"] if p["paper_id"] == "1605.08386")
    assert paper["title"] == "Heat-bath random walks with Markov bases"  # arXiv's record (the replay's PDF is ACL's)
    assert paper["rationale"] and all(isinstance(q["page"], int) for q in paper["rationale"])  # read from the PDF
    assert any("linking" in q["quote"] for q in paper["rationale"])
    # arXiv refusing a search not asked before (retries of a 503 are tested with watches): the library answers
    server.faults = [Fault(400, b"malformed query")]
    again = check("--arxiv", claim="Entity linking in the literature graph of Semantic Scholar uses neural models")
    assert again.returncode == 0, again.stderr
    after = json.loads(again.stdout)
    assert after["trace"][0].startswith("arXiv could not be searched (") and "library alone" in after["trace"][0]
    assert [p["paper_id"] for p in after["papers"]] == ["1605.08386"]

    # a table's query reads arXiv's papers on it the same way, before its rows are chosen
    query = "citation-informed transformers for document-level representations"
    record = json.loads(next((RECORDED / "arxiv-py").glob("id_2104.12255v1_*.json")).read_text())
    server.responses[("q", arxiv_query(query), "0", "5")] = (200, record["body"].encode())
    table = subprocess.run([sys.executable, "-m", "cli.main", "table", "--query", query, "-n", "1", "--arxiv",
                            "--column", "Which dataset?", "--format", "json"],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert table.returncode == 0, table.stderr
    assert "read into it: 2104.12255" in table.stderr
    assert [row["paper_id"] for row in json.loads(table.stdout)["rows"]] == ["2104.12255"]


def test_papers_a_check_reads_from_arxiv_are_the_askers_and_within_its_years(server: ReplayServer, tmp_path: Path,
                                                                             embedder: Embedder) -> None:
    """In process (the HTTP route passes its key's owner): the paper read belongs to whoever asked (they may delete
    it), the check's years narrow the arXiv search, a check limited to given papers reads none, and a claim with
    no searchable word asks arXiv nothing."""
    from agent.papers import arxiv_query
    from retrieval.search import SearchFilter
    from service import build_services
    from tests.arxiv_replay import RECORDED

    runtime = make_runtime(tmp_path, embedder, use_arxiv=True, arxiv_api_url=f"{server.base}/api/query",
                           arxiv_pdf_url=f"{server.base}/pdf/", arxiv_delay_seconds=0,
                           allowed_fetch_hosts=f"http://127.0.0.1:{server.base.rsplit(':', 1)[1]}")
    claims = build_services(runtime).claims
    claim = "Entity linking in the literature graph of Semantic Scholar reaches a high F1"
    years = SearchFilter(year_from=2015, year_to=2017)
    record = json.loads(next((RECORDED / "arxiv-py").glob("id_1605.08386_*.json")).read_text())
    server.responses[("q", arxiv_query(claim, 2015, 2017), "0", "5")] = (200, record["body"].encode())
    checked = claims.check(claim, where=years, arxiv=True, added_by="alice")
    assert "read into it: 1605.08386" in checked.trace[0]
    assert "submittedDate" in server.requests[0][1]  # the years went into the arXiv search
    assert runtime.catalog.find_paper("1605.08386").added_by == "alice"
    with pytest.raises(ValueError, match="--paper limits the check"):
        claims.check(claim, where=SearchFilter(paper_ids=["1605.08386"]), arxiv=True)
    asked = len(server.requests)
    unsearchable = claims.check("Аспирин снижает риск инсульта", arxiv=True)
    assert unsearchable.trace[0].startswith("no word of it can be searched on arXiv") and len(server.requests) == asked


def test_a_table_over_http_reads_arxiv_first_and_says_what(server: ReplayServer, tmp_path: Path,
                                                           embedder: Embedder) -> None:
    """POST /v1/tables with "arxiv": the paper arXiv has on the query is read into the library before the rows are
    chosen, for the key that asked, and the queued job's note says so."""
    from fastapi.testclient import TestClient

    from agent.papers import arxiv_query
    from api.app import create_app
    from tests.arxiv_replay import RECORDED

    runtime = make_runtime(tmp_path, embedder, use_arxiv=True, arxiv_api_url=f"{server.base}/api/query",
                           arxiv_pdf_url=f"{server.base}/pdf/", arxiv_delay_seconds=0,
                           allowed_fetch_hosts=f"http://127.0.0.1:{server.base.rsplit(':', 1)[1]}")
    query = "citation-informed transformers for document-level representations"
    record = json.loads(next((RECORDED / "arxiv-py").glob("id_2104.12255v1_*.json")).read_text())
    server.responses[("q", arxiv_query(query), "0", "5")] = (200, record["body"].encode())
    with TestClient(create_app(runtime=runtime)) as client:
        queued = client.post("/v1/tables", json={"query": query, "n": 1, "columns": ["Which dataset?"],
                                                 "arxiv": True})
        assert queued.status_code == 202, queued.text
        assert "read into it: 2104.12255" in queued.json()["note"]
        no_query = client.post("/v1/tables", json={"papers": ["2104.12255"], "columns": ["Which dataset?"],
                                                   "arxiv": True})
        assert no_query.status_code == 400 and "needs a query" in no_query.json()["detail"]
    assert runtime.catalog.find_paper("2104.12255") is not None
