"""What a check says when arXiv fails (agent/papers.py): the reason, short, without the server's addresses. The
reading itself is tested against the arXiv replay server (tests/test_acquire.py)."""

from __future__ import annotations

from agent.papers import NewPaperReader
from tools.arxiv_client import ArxivUnavailableError


class _DownArxiv:
    def search(self, query: str, max_results: int) -> list:
        raise ArxivUnavailableError("arXiv is unavailable after 4 attempts (HTTPConnectionPool(host='10.0.0.5', "
                                    "port=8080): Max retries exceeded with url: http://10.0.0.5:8080/api/query?"
                                    "search_query=aspirin" + "&x=1" * 100 + ")")


def test_an_arxiv_failure_is_said_shortly_and_without_the_servers_address() -> None:
    reader = NewPaperReader(_DownArxiv(), fetcher=None, catalog=None)  # type: ignore[arg-type]
    line = reader.read_new("Aspirin lowers the risk of stroke")
    assert line.startswith("arXiv could not be searched (arXiv is unavailable after 4 attempts")
    assert line.endswith(": the library alone was read") and len(line) < 250
    assert "10.0.0.5" not in line and "http" not in line
