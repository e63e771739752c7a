"""The library and arXiv as langchain-core tools, with bounded, validated arguments, so the agent's
tool-calling loop (and any LangChain agent) can use them without being able to ask for too much."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, field_validator

from agent.papers import PaperFetcher
from retrieval.search import HybridSearcher, Passage
from tools.arxiv_client import ArxivClient
from tools.arxiv_ids import is_arxiv_id


class SearchArxivArgs(BaseModel):
    query: str = Field(min_length=2, max_length=300, description="arXiv search words or fielded query")
    max_results: int = Field(default=5, ge=1, le=20, description="how many results (1-20)")


class FetchPaperArgs(BaseModel):
    arxiv_ids: list[str] = Field(min_length=1, max_length=5, description="1-5 arXiv ids, e.g. 2104.12255")

    @field_validator("arxiv_ids")
    @classmethod
    def _valid_ids(cls, ids: list[str]) -> list[str]:
        bad = [i for i in ids if not is_arxiv_id(i)]
        if bad:
            raise ValueError(f"not arXiv ids: {', '.join(i[:60] for i in bad)}")
        return ids


class SearchLibraryArgs(BaseModel):
    query: str = Field(min_length=2, max_length=500, description="what to look for in the local library")
    k: int = Field(default=8, ge=1, le=20, description="how many passages (1-20)")


def make_tools(searcher: HybridSearcher, arxiv: ArxivClient | None = None, fetcher: PaperFetcher | None = None,
               found: list[Passage] | None = None, fetched: list[str] | None = None,
               room: Callable[[], int] | None = None, library_k: int = 8) -> list[BaseTool]:
    """search_library always; search_arxiv and fetch_paper only with an arXiv client and fetcher. Passages
    found are appended to `found`, papers added to `fetched`; `room()` says how many papers may still be
    fetched (the per-turn budget)."""
    found = [] if found is None else found
    fetched = [] if fetched is None else fetched

    def search_library(query: str, k: int = library_k) -> list[dict]:
        passages = searcher.search(query, k=k)
        known = {p.chunk_id for p in found}
        found.extend(p for p in passages if p.chunk_id not in known)
        return [{"title": p.title, "section": p.section, "page": p.page, "text": p.text[:800]} for p in passages]

    tools: list[BaseTool] = [StructuredTool.from_function(
        search_library, name="search_library", args_schema=SearchLibraryArgs,
        description="Find passages in the local paper library.")]
    if arxiv is None or fetcher is None:
        return tools

    def search_arxiv(query: str, max_results: int = 5) -> list[dict]:
        return [{"arxiv_id": p.arxiv_id, "title": p.title, "authors": p.authors[:5], "year":
                 p.published.year if p.published else None, "abstract": p.abstract[:600]}
                for p in arxiv.search(query, max_results=max_results)]

    def fetch_paper(arxiv_ids: list[str]) -> list[dict] | str:
        allowed = room() if room else len(arxiv_ids)
        if allowed <= 0:
            return "the paper budget of this turn is used up; answer from the library"
        results = fetcher.fetch(arxiv_ids[:allowed])
        fetched.extend(r.paper_id for r in results if r.status == "added" and r.paper_id)
        return [r.public() for r in results]

    return [*tools,
            StructuredTool.from_function(search_arxiv, name="search_arxiv", args_schema=SearchArxivArgs,
                                         description="Search arXiv for papers (metadata and abstracts)."),
            StructuredTool.from_function(fetch_paper, name="fetch_paper", args_schema=FetchPaperArgs,
                                         description="Download arXiv papers by id and add them to the library.")]
