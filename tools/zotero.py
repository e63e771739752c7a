"""A client for the Zotero Web API v3, read-only: a library's items changed since a version, deleted keys, one
item, and attachment files.

Not pyzotero: every pyzotero release pins bibtexparser < 2, which shares its import name with the bibtexparser 2
the BibTeX import and export use, so the two cannot be installed together. The part of the protocol a sync needs
is small: versioned reads (`since`, `If-Modified-Since-Version` -> 304, `Last-Modified-Version`), pages of at most
100 (`start`, `Total-Results`), and Zotero's load shedding: `Backoff: N` on any response asks for N quiet seconds,
429 and 503 come with `Retry-After`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from tools.acquire import DownloadedFile, FetchPolicy, download_pdf

log = logging.getLogger(__name__)
DEFAULT_API_URL = "https://api.zotero.org"
# Where Zotero's file endpoint redirects downloads (its S3 bucket); the redirect carries no credentials.
FILE_HOSTS = ("zoterofilestorage.s3.amazonaws.com",)
PAGE = 100  # the API's largest page
_LIBRARY = re.compile(r"^(user|group)s?:(\d+)$")


class ZoteroError(Exception):
    """The library could not be read (the message says what to do)."""


class _Busy(Exception):
    def __init__(self, status: int, wait: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.wait = wait


@dataclass(frozen=True)
class ZoteroLibrary:
    kind: str  # "users" or "groups"
    id: str

    @classmethod
    def parse(cls, text: str) -> ZoteroLibrary:
        match = _LIBRARY.match(text.strip())
        if not match:
            raise ZoteroError(f"{text!r} is not a Zotero library: write user:ID or group:ID (the numeric id from "
                              "zotero.org/settings/keys or the group's URL)")
        return cls(f"{match.group(1)}s", match.group(2))

    def __str__(self) -> str:
        return f"{self.kind[:-1]}:{self.id}"


@dataclass
class Changes:
    items: list[dict]  # Zotero's JSON objects ({"key", "version", "data": {...}})
    version: int  # the library's version these items bring us to


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError as error:
        raise ZoteroError(f"Zotero answered {response.url.path} with something that is not JSON "
                          f"({response.headers.get('content-type', 'no type')}); check ZOTERO_API_URL") from error


class ZoteroClient:
    def __init__(self, api_key: str, base_url: str = DEFAULT_API_URL, timeout: float = 30.0, attempts: int = 5,
                 max_wait: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_wait = max_wait
        self._auth = {"Zotero-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(timeout=timeout, headers={"Zotero-API-Version": "3", "User-Agent": "scisynth/0.1"})
        self._quiet_until = 0.0
        self._lock = threading.Lock()
        self._get = retry(retry=retry_if_exception(lambda e: isinstance(e, _Busy | httpx.TransportError)),
                          stop=stop_after_attempt(attempts), wait=self._wait, reraise=True)(self._get_once)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Busy) and error.wait is not None:
            return min(error.wait, self.max_wait)
        return wait_exponential_jitter(initial=1, max=self.max_wait)(state)

    def _get_once(self, path: str, params: dict | None = None, headers: dict | None = None) -> httpx.Response:
        with self._lock:
            pause = self._quiet_until - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        response = self._http.get(f"{self.base_url}{path}", params=params, headers={**self._auth, **(headers or {})})
        backoff = _seconds(response.headers.get("Backoff"))
        if backoff:
            with self._lock:
                self._quiet_until = time.monotonic() + min(backoff, self.max_wait)
        if response.status_code in (429, 503):
            raise _Busy(response.status_code, _seconds(response.headers.get("Retry-After")) or backoff)
        if response.status_code in (401, 403):
            raise ZoteroError(f"Zotero refused the key (HTTP {response.status_code}): set ZOTERO_API_KEY to a key "
                              "that can read this library (zotero.org/settings/keys)")
        if response.status_code == 404:
            raise ZoteroError(f"Zotero has no {path} (HTTP 404): check the library id and collection key")
        if response.status_code >= 400:  # its body is not relayed: it is the upstream's text, not ours to show
            log.warning("Zotero answered HTTP %d for %s: %r", response.status_code, path, response.text[:200])
            raise ZoteroError(f"Zotero answered HTTP {response.status_code} for {path}; the server log has its reply")
        return response

    def _call(self, path: str, params: dict | None = None, headers: dict | None = None) -> httpx.Response:
        try:
            return self._get(path, params, headers)
        except _Busy as error:
            raise ZoteroError(f"Zotero is busy ({error}); sync again later: nothing is lost") from error
        except httpx.TransportError as error:
            raise ZoteroError(f"Zotero cannot be reached at {self.base_url} ({error.__class__.__name__})") from error

    def changes(self, library: ZoteroLibrary, since: int = 0, collection: str | None = None) -> Changes | None:
        """Items (with their attachments and notes) changed after version `since`; None when nothing changed."""
        path = f"/{library.kind}/{library.id}" + (f"/collections/{collection}" if collection else "") + "/items"
        items: list[dict] = []
        version = None
        while True:
            response = self._call(path, {"since": since, "format": "json", "limit": PAGE, "start": len(items)},
                                  {"If-Modified-Since-Version": str(since)} if since else None)
            if response.status_code == 304:
                return None
            page_version = int(response.headers.get("Last-Modified-Version", "0"))
            if version is not None and page_version != version:
                raise ZoteroError("the Zotero library changed during the sync; sync again")
            version = page_version
            page = _json(response)
            if not isinstance(page, list):
                raise ZoteroError(f"Zotero sent {type(page).__name__} where a list of items belongs ({path})")
            items += page
            total = int(response.headers.get("Total-Results", len(items)))
            if not page or len(items) >= total:
                return Changes(items, version)

    def deleted(self, library: ZoteroLibrary, since: int) -> list[str]:
        """Keys of the items deleted after version `since`."""
        deleted = _json(self._call(f"/{library.kind}/{library.id}/deleted", {"since": since}))
        return [str(key) for key in deleted.get("items", [])] if isinstance(deleted, dict) else []

    def item(self, library: ZoteroLibrary, key: str) -> dict:
        return _json(self._call(f"/{library.kind}/{library.id}/items/{key}", {"format": "json"}))

    def download(self, library: ZoteroLibrary, key: str, target: Path, max_bytes: int) -> DownloadedFile:
        """An attachment's file (DownloadError when it is not a PDF or too large; the key goes to Zotero only)."""
        api = urlsplit(self.base_url)
        allowed = [api.netloc if api.scheme == "https" else f"http://{api.netloc}", *FILE_HOSTS]
        return download_pdf(f"{self.base_url}/{library.kind}/{library.id}/items/{key}/file", target,
                            FetchPolicy.from_hosts(allowed), max_bytes,
                            credentials={**self._auth, "Zotero-API-Version": "3"})

    def close(self) -> None:
        self._http.close()
