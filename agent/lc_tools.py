"""The library and arXiv as langchain-core tools, with bounded, validated arguments, so the agent's
tool-calling loop (and any LangChain agent) can use them without being able to ask for too much."""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, field_validator

from agent.papers import PaperFetcher
from retrieval.search import HybridSearcher
from tools.arxiv_client import ArxivClient
from tools.arxiv_ids import is_arxiv_id


class SearchArxivArgs(BaseModel):
    query: str = Field(min_length=2, max_length=300, description="arXiv search words or fielded query")
    max_results: int = Field(default=5, ge=1, le=50, description="how many results (1-50)")


class FetchPaperArgs(BaseModel):
    arxiv_ids: list[str] = Field(min_length=1, max_length=5, description="1-5 arXiv ids, e.g. 2104.12255")

    @field_validator("arxiv_ids")
    @classmethod
    def _valid_ids(cls, ids: list[str]) -> list[str]:
        bad = [i for i in ids if not is_arxiv_id(i)]
        if bad:
            raise ValueError(f"not arXiv ids: {', '.join(bad)}")
        return ids


class SearchLibraryArgs(BaseModel):
    query: str = Field(min_length=2, max_length=500, description="what to look for in the local library")
    k: int = Field(default=8, ge=1, le=20, description="how many passages (1-20)")


def make_tools(arxiv: ArxivClient, fetcher: PaperFetcher, searcher: HybridSearcher) -> list[BaseTool]:
    def search_arxiv(query: str, max_results: int = 5) -> list[dict]:
        return [{"arxiv_id": p.arxiv_id, "title": p.title, "authors": p.authors[:5], "year":
                 p.published.year if p.published else None, "abstract": p.abstract[:600]}
                for p in arxiv.search(query, max_results=max_results)]

    def fetch_paper(arxiv_ids: list[str]) -> list[dict]:
        return [r.public() for r in fetcher.fetch(arxiv_ids)]

    def search_library(query: str, k: int = 8) -> list[dict]:
        return [{**p.public(), "text": p.text[:800]} for p in searcher.search(query, k=k)]

    return [
        StructuredTool.from_function(search_arxiv, name="search_arxiv", args_schema=SearchArxivArgs,
                                     description="Search arXiv for papers (metadata and abstracts)."),
        StructuredTool.from_function(fetch_paper, name="fetch_paper", args_schema=FetchPaperArgs,
                                     description="Download arXiv papers by id and add them to the library."),
        StructuredTool.from_function(search_library, name="search_library", args_schema=SearchLibraryArgs,
                                     description="Find passages in the local paper library."),
    ]
