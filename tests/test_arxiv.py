"""The arXiv client against a real HTTP server on 127.0.0.1 replaying recorded arXiv responses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import create_engine

from store.arxiv_cache import SqlArxivCache
from tests.arxiv_replay import Fault, ReplayServer
from tools.arxiv_client import ArxivClient, ArxivQueryError, ArxivResponseError, ArxivUnavailableError, build_query


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def client(server: ReplayServer, **options: object) -> ArxivClient:
    settings = {"delay_seconds": 0, "page_size": 10, "attempts": 3, "max_wait": 0.2, "timeout": 2.0, **options}
    return ArxivClient(f"{server.base}/api/query", f"{server.base}/pdf/", **settings)


def test_search_pages_through_results(server: ReplayServer) -> None:
    papers = client(server).search("testing", max_results=25)
    assert len(papers) == 25 and len({p.arxiv_id for p in papers}) == 25
    starts = [path.split("start=")[1].split("&")[0] for _, path in server.requests]
    assert starts == ["0", "10", "20"]
    first = papers[0]
    assert first.arxiv_id == "2202.12139v1" and first.title.startswith("Testing Deep Learning Models")
    assert first.abs_url == "https://arxiv.org/abs/2202.12139v1" and first.published is not None
    assert first.authors and first.categories and first.primary_category


def test_lookups_by_new_and_old_style_ids(server: ReplayServer) -> None:
    arxiv = client(server)
    assert [p.arxiv_id for p in arxiv.lookup(["1605.08386"])] == ["1605.08386v1"]
    assert [p.arxiv_id for p in arxiv.lookup(["astro-ph/0601001"])] == ["astro-ph/0601001v1"]
    assert [p.arxiv_id for p in arxiv.lookup(["quant-ph/0201082v1"])] == ["quant-ph/0201082v1"]
    paper = arxiv.lookup(["2104.12255v1"])[0]
    assert paper.base_id == "2104.12255" and paper.abstract


def test_multi_id_lookup_leaves_out_missing_ids(server: ReplayServer) -> None:
    arxiv = client(server)
    assert [p.arxiv_id for p in arxiv.lookup(["0808.05394", "1707.08567"])] == ["1707.08567v1"]
    found = arxiv.lookup(["2201.13455", "2201.13452", "2201.13453", "2201.13454"])
    assert [p.arxiv_id for p in found] == ["2201.13452v1"]
    # rsxiv recordings have <link>s without rel/type: the PDF URL falls back to the configured prefix
    assert found[0].pdf_url == f"{server.base}/pdf/2201.13452v1"


def test_empty_results(server: ReplayServer) -> None:
    assert client(server).lookup(["1201.56789"]) == []
    assert client(server).lookup(["0000.0000"]) == []


def test_http_400_error_feed_is_a_query_error_and_not_retried(server: ReplayServer) -> None:
    with pytest.raises(ArxivQueryError, match="incorrect id format for abc"):
        client(server).lookup(["abc"])
    assert len(server.requests) == 1


def test_503_then_success(server: ReplayServer) -> None:
    server.faults = [Fault(503), Fault(502)]
    assert [p.arxiv_id for p in client(server).lookup(["1605.08386"])] == ["1605.08386v1"]
    assert len(server.requests) == 3


def test_429_honours_retry_after(server: ReplayServer) -> None:
    server.faults = [Fault(429, headers={"Retry-After": "1"})]
    papers = client(server, max_wait=5).lookup(["1605.08386"])
    assert papers
    (first, _), (second, _) = server.requests
    assert second - first >= 0.95


def test_server_down_is_a_clear_error(server: ReplayServer) -> None:
    server.faults = [Fault(500)] * 3
    with pytest.raises(ArxivUnavailableError, match="after 3 attempts"):
        client(server).lookup(["1605.08386"])


def test_malformed_xml(server: ReplayServer) -> None:
    server.faults = [Fault(200, body=b"<html><body>proxy error</html")]
    with pytest.raises(ArxivResponseError, match="malformed"):
        client(server).lookup(["1605.08386"])
    server.faults = [Fault(200, body=b"<html><body>a portal page</body></html>")]
    with pytest.raises(ArxivResponseError, match="instead of an Atom feed"):
        client(server).lookup(["1605.08386"])


def test_a_server_that_never_answers_times_out(server: ReplayServer) -> None:
    server.faults = [Fault(200, delay=3.0)] * 2
    started = time.monotonic()
    with pytest.raises(ArxivUnavailableError):
        client(server, timeout=0.5, attempts=2).lookup(["1605.08386"])
    assert time.monotonic() - started < 2.9


def test_cache_avoids_a_second_request_and_serves_offline(server: ReplayServer, tmp_path: Path) -> None:
    cache = SqlArxivCache(create_engine(f"sqlite:///{tmp_path / 'cache.db'}"))
    arxiv = client(server, cache=cache)
    first = arxiv.lookup(["1605.08386"])
    assert arxiv.lookup(["1605.08386"]) == first
    assert len(server.requests) == 1
    # Past the TTL and with arXiv down, the stale answer is better than none.
    stale = client(server, cache=cache, cache_ttl_seconds=0)
    server.faults = [Fault(503)] * 3
    assert stale.lookup(["1605.08386"]) == first


def test_rate_limit_spaces_requests(server: ReplayServer) -> None:
    arxiv = client(server, delay_seconds=0.6)
    arxiv.lookup(["1605.08386"])
    arxiv.lookup(["1707.08567"])
    (first, _), (second, _) = server.requests
    assert second - first >= 0.55


def test_fielded_query_building() -> None:
    query = build_query("graph neural", title="protein folding", author="Lo", category="cs.CL",
                        since=date(2024, 1, 1), until=date(2024, 6, 30))
    assert query == ('graph neural AND ti:"protein folding" AND au:Lo AND cat:cs.CL AND '
                     "submittedDate:[202401010000 TO 202406302359]")
    with pytest.raises(ArxivQueryError):
        ArxivClient().search("   ")


def test_langchain_tools_validate_and_call(server: ReplayServer, tmp_path: Path) -> None:
    from pydantic import ValidationError

    from agent.lc_tools import make_tools

    fetcher = object()  # never called: the schema refuses before
    tools = {t.name: t for t in make_tools(None, client(server), fetcher)}  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        tools["search_arxiv"].invoke({"query": "testing", "max_results": 21})
    with pytest.raises(ValidationError, match="not arXiv ids"):
        tools["fetch_paper"].invoke({"arxiv_ids": ["http://evil.example/x.pdf"]})
    found = tools["search_arxiv"].invoke({"query": "testing", "max_results": 10})
    assert len(found) == 10 and found[0]["arxiv_id"] == "2202.12139v1"
    assert set(tools) == {"search_arxiv", "fetch_paper", "search_library"}
