"""arXiv search the way arXiv asks clients to behave: one request at a time, a pause between requests,
patient retries when it is busy, and a clear error when it stays down.

Built on the `arxiv` package (its query building, paging and Atom parsing); this module adds the
configurable endpoint, a process-wide rate limit, tenacity retries that honour Retry-After, a strict
response check, typed records and an optional cache.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime
from typing import Literal, Protocol

import arxiv
import requests
from arxiv import _feed
from lxml import etree
from pydantic import BaseModel
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from tools.arxiv_ids import is_arxiv_id, without_version

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://export.arxiv.org/api/query"
DEFAULT_PDF_URL = "https://arxiv.org/pdf/"
SortBy = Literal["relevance", "submitted", "updated"]
_SORT = {"relevance": arxiv.SortCriterion.Relevance, "submitted": arxiv.SortCriterion.SubmittedDate,
         "updated": arxiv.SortCriterion.LastUpdatedDate}
_ATOM = "{http://www.w3.org/2005/Atom}feed"
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

class ArxivError(Exception):
    """Base class of everything this client raises."""

class ArxivUnavailableError(ArxivError):
    """arXiv could not be reached, or kept answering 429/5xx, through every retry. Try again later;
    SciSynth carries on with the local library meanwhile."""

class ArxivQueryError(ArxivError):
    """arXiv refused the query (HTTP 4xx other than 429), e.g. a malformed id. Fix the query."""

class ArxivResponseError(ArxivError):
    """arXiv answered with something that is not an Atom feed. Usually transient or a proxy in the way."""

class _RetryableStatus(ArxivError):
    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after

class ArxivPaper(BaseModel):
    """One arXiv record, typed."""

    arxiv_id: str  # with version, e.g. 2104.12255v1
    title: str
    authors: list[str]
    abstract: str
    categories: list[str]
    primary_category: str | None
    published: datetime | None
    updated: datetime | None
    doi: str | None = None
    journal_ref: str | None = None
    comment: str | None = None
    abs_url: str
    pdf_url: str

    @property
    def base_id(self) -> str:
        """The id without its version: the paper's id in the library."""
        return without_version(self.arxiv_id)

class ResultCache(Protocol):
    def get(self, key: str, max_age_seconds: float | None) -> list[dict] | None: ...

    def put(self, key: str, records: list[dict]) -> None: ...

class _RateLimiter:
    """At most one request every `interval` seconds, one at a time, across every client in the process."""

    _lock = threading.Lock()
    _last_request = 0.0

    @classmethod
    def wait(cls, interval: float) -> None:
        with cls._lock:
            pause = cls._last_request + interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            cls._last_request = time.monotonic()

def build_query(text: str = "", title: str | None = None, author: str | None = None, abstract: str | None = None,
                category: str | list[str] | None = None, since: date | None = None, until: date | None = None
                ) -> str:
    """An arXiv search_query: free text plus fielded terms, joined with AND (several categories: any of them)."""
    terms = [text.strip()] if text.strip() else []
    for prefix, value in (("ti", title), ("au", author), ("abs", abstract)):
        if value:
            terms.append(f'{prefix}:"{value}"' if " " in value else f"{prefix}:{value}")
    categories = [category] if isinstance(category, str) else category or []
    if categories:
        terms.append(" OR ".join(f"cat:{c}" for c in categories))
    if since or until:
        start = (since or date(1991, 1, 1)).strftime("%Y%m%d0000")
        end = (until or date(9999, 12, 31)).strftime("%Y%m%d2359")
        terms.append(f"submittedDate:[{start} TO {end}]")
    return " AND ".join(f"({t})" if " OR " in t else t for t in terms)

def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.replace(".", "", 1).isdigit() else None

def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, _RetryableStatus | requests.ConnectionError | requests.Timeout)

class _PoliteClient(arxiv.Client):
    """arxiv.Client whose page fetches go through our limiter, retries and checks."""

    def __init__(self, api_url: str, delay_seconds: float, timeout: float, attempts: int, max_wait: float,
                 page_size: int) -> None:
        super().__init__(page_size=page_size, delay_seconds=0, num_retries=0)
        self.query_url_format = api_url.rstrip("?") + "?{}"
        self.delay = delay_seconds
        self.timeout = timeout
        self.attempts = attempts
        self.max_wait = max_wait

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        backoff = wait_exponential_jitter(multiplier=1, max=self.max_wait)(state)
        if isinstance(error, _RetryableStatus) and error.retry_after is not None:
            return min(max(error.retry_after, self.delay), self.max_wait)
        return backoff

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> _feed.ParsedFeed:
        fetch = retry(retry=retry_if_exception(_is_retryable), stop=stop_after_attempt(self.attempts),
                      wait=self._wait, reraise=True)(self._fetch_once)
        try:
            return fetch(url)
        except (_RetryableStatus, requests.ConnectionError, requests.Timeout) as error:
            raise ArxivUnavailableError(f"arXiv is unavailable after {self.attempts} attempts ({error}); "
                                        "try again later") from error

    def _fetch_once(self, url: str) -> _feed.ParsedFeed:
        _RateLimiter.wait(self.delay)
        log.info("arXiv request: %s", url)
        response = self._session.get(url, timeout=self.timeout, headers={"user-agent": "scisynth/0.1"})
        if response.status_code == 429 or response.status_code >= 500:
            raise _RetryableStatus(response.status_code, _retry_after(response))
        if response.status_code >= 400:
            raise ArxivQueryError(f"arXiv refused the query (HTTP {response.status_code}): {_error_text(response)}")
        try:
            root = etree.fromstring(response.content, _SAFE_XML)
        except etree.XMLSyntaxError as error:
            raise ArxivResponseError(f"arXiv sent a malformed response ({error})") from error
        if root.tag != _ATOM:
            raise ArxivResponseError(f"arXiv sent <{root.tag}> instead of an Atom feed")
        return _feed.parse(response.content)

def _error_text(response: requests.Response) -> str:
    """arXiv's error feeds carry the reason in an entry's summary."""
    try:
        summary = etree.fromstring(response.content, _SAFE_XML).find(".//{*}entry/{*}summary")
    except etree.XMLSyntaxError:
        summary = None
    return summary.text.strip() if summary is not None and summary.text else response.text[:200]

def _has_valid_id(result: arxiv.Result) -> bool:
    """An entry whose id is not an arXiv id (a broken mirror, a hostile proxy) is left out, never linked."""
    if is_arxiv_id(result.get_short_id()):
        return True
    log.warning("arXiv answer with an invalid id %r left out", result.get_short_id()[:80])
    return False

def _record(result: arxiv.Result, pdf_prefix: str) -> ArxivPaper:
    short_id = result.get_short_id()
    return ArxivPaper(
        arxiv_id=short_id, title=" ".join(result.title.split()), authors=[a.name for a in result.authors],
        abstract=" ".join(result.summary.split()), categories=list(result.categories),
        primary_category=result.primary_category or (result.categories[0] if result.categories else None),
        published=result.published, updated=result.updated, doi=result.doi or None,
        journal_ref=result.journal_ref or None, comment=result.comment or None,
        abs_url=f"https://arxiv.org/abs/{short_id}", pdf_url=result.pdf_url or f"{pdf_prefix}{short_id}",
    )

class ArxivClient:
    def __init__(self, api_url: str = DEFAULT_API_URL, pdf_url: str = DEFAULT_PDF_URL, delay_seconds: float = 3.0,
                 timeout: float = 20.0, attempts: int = 4, max_wait: float = 30.0, page_size: int = 100,
                 cache: ResultCache | None = None, cache_ttl_seconds: float = 24 * 3600) -> None:
        self.pdf_url = pdf_url
        self.cache = cache
        self.cache_ttl_seconds = cache_ttl_seconds
        self.page_size = page_size
        self._client = _PoliteClient(api_url, delay_seconds, timeout, attempts, max_wait, page_size)
        self._api_url = api_url

    def _run(self, search: arxiv.Search, offset: int, key: str, fresh: bool = False) -> list[ArxivPaper]:
        if self.cache and not fresh and (cached := self.cache.get(key, self.cache_ttl_seconds)) is not None:
            return [ArxivPaper.model_validate(r) for r in cached]
        try:
            papers = [_record(r, self.pdf_url) for r in self._client.results(search, offset=offset)
                      if _has_valid_id(r)]
        except arxiv.UnexpectedEmptyPageError:
            papers = []
        except ArxivUnavailableError:
            stale = self.cache.get(key, None) if self.cache and not fresh else None
            if stale is None:
                raise
            log.warning("arXiv is unavailable: answering from the cache (older than its TTL)")
            return [ArxivPaper.model_validate(r) for r in stale]
        if self.cache:
            self.cache.put(key, [p.model_dump(mode="json") for p in papers])
        return papers

    def search(self, query: str, max_results: int = 10, offset: int = 0, sort_by: SortBy = "relevance",
               fresh: bool = False) -> list[ArxivPaper]:
        """Papers matching an arXiv query (see build_query), newest or most relevant first. `fresh` asks arXiv
        itself (a watch looking for new papers): no cached answer, and ArxivUnavailableError when it is down."""
        if not query.strip():
            raise ArxivQueryError("empty query: give search words or fielded terms")
        search = arxiv.Search(query=query, max_results=max_results, sort_by=_SORT[sort_by])
        self._client.page_size = min(self.page_size, max_results)  # no larger pages than asked for
        return self._run(search, offset, f"{self._api_url}|q|{query}|{max_results}|{offset}|{sort_by}", fresh)

    def lookup(self, ids: list[str]) -> list[ArxivPaper]:
        """Records for arXiv ids (new- or old-style, with or without version). Unknown ids are left out."""
        search = arxiv.Search(id_list=ids, max_results=len(ids))
        return self._run(search, 0, f"{self._api_url}|id|{','.join(ids)}")
