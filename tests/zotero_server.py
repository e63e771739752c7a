"""A Zotero Web API v3 server on 127.0.0.1 holding one user library in memory, answering the reads a sync makes
the way api.zotero.org does: `since` and `If-Modified-Since-Version` (304), `Last-Modified-Version`,
`Total-Results` and `limit`/`start` pages, /deleted, single items, attachment files (served directly or through a
redirect, as Zotero's file storage does), a 403 for a wrong key, and injected 429/503 with `Retry-After` or
`Backoff`. Tests edit the library between syncs (`put`, `delete`)."""

from __future__ import annotations

import contextlib
import json
import string
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from random import Random
from urllib.parse import parse_qs, urlsplit

from evals.loopback import LoopbackServer

USER = "1234567"


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class ZoteroServer(LoopbackServer):
    def __init__(self, api_key: str = "zotero-test-key") -> None:
        self.api_key = api_key
        self.version = 0
        self.items: dict[str, dict] = {}
        self.files: dict[str, bytes] = {}
        self.deleted: dict[str, int] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, dict[str, str]]] = []  # path with query, headers
        self.redirect_files = False
        self.backoff: str | None = None  # sent once, on the next answer: "wait this many seconds"
        self._keys = Random(7)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers)))
                status, headers, body = server.answer(self.path, self.headers)
                if server.backoff and status == 200:
                    headers, server.backoff = {**headers, "Backoff": server.backoff}, None
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        super().__init__(Handler)

    def put(self, data: dict, key: str | None = None, file: bytes | None = None) -> str:
        """Add or change an item (Zotero's item data fields); the library's version moves on."""
        with self._lock:
            self.version += 1
            key = key or "".join(self._keys.choices(string.ascii_uppercase + string.digits, k=8))
            self.items[key] = {"key": key, "version": self.version, "library": {"type": "user", "id": int(USER)},
                               "data": {"key": key, "version": self.version, **data}}
            if file is not None:
                self.files[key] = file
            return key

    def delete(self, key: str) -> None:
        with self._lock:
            self.version += 1
            self.items.pop(key)
            self.deleted[key] = self.version

    def _json(self, value: object, status: int = 200, **headers: str) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json", "Last-Modified-Version": str(self.version), **headers}, (
            json.dumps(value).encode())

    def answer(self, path: str, headers: object) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path.startswith("/storage/"):  # the file host a redirect points to: no key is expected here
            return 200, {"Content-Type": "application/pdf"}, self.files[parts.path.rsplit("/", 1)[1]]
        if headers.get("Zotero-API-Key") != self.api_key:
            return 403, {"Content-Type": "text/plain"}, b"Forbidden"
        if self.faults:
            fault = self.faults.pop(0)
            return fault.status, fault.headers, b"busy"
        prefix = f"/users/{USER}"
        if not parts.path.startswith(prefix):
            return 404, {}, b"Not found"
        rest = parts.path.removeprefix(prefix).strip("/").split("/")
        since = int(query.get("since", 0))
        with self._lock:
            if rest == ["deleted"]:
                return self._json({"items": [k for k, v in self.deleted.items() if v > since], "collections": [],
                                   "searches": [], "tags": [], "settings": []})
            if rest[0] == "items" and len(rest) == 3 and rest[2] == "file":
                if rest[1] not in self.files:
                    return 404, {}, b"Not found"
                if self.redirect_files:
                    return 302, {"Location": f"{self.base}/storage/{rest[1]}"}, b""
                return 200, {"Content-Type": "application/pdf"}, self.files[rest[1]]
            if rest[0] == "items" and len(rest) == 2:
                return self._json(self.items[rest[1]]) if rest[1] in self.items else (404, {}, b"Not found")
            if rest[-1] != "items":
                return 404, {}, b"Not found"
            if int(headers.get("If-Modified-Since-Version") or -1) >= self.version:
                return 304, {"Last-Modified-Version": str(self.version)}, b""
            chosen = [i for i in self.items.values() if i["version"] > since]
            if rest[0] == "collections":
                parents = {i["key"] for i in self.items.values() if rest[1] in i["data"].get("collections", [])}
                chosen = [i for i in chosen if i["key"] in parents or i["data"].get("parentItem") in parents]
            start, limit = int(query.get("start", 0)), min(int(query.get("limit", 25)), 100)
            return self._json(chosen[start:start + limit], **{"Total-Results": str(len(chosen))})
