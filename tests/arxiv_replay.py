"""A local server that speaks the arXiv API and PDF protocol, replaying recorded responses from
../shared/data/arxiv-api and serving real PDFs from ../shared/data/papers.

Tests start it in a thread; developers can run it by hand:
    python -m tests.arxiv_replay --port 8765
    SCISYNTH_ARXIV_API_URL=http://127.0.0.1:8765/api/query SCISYNTH_ARXIV_PDF_URL=http://127.0.0.1:8765/pdf/ \\
    SCISYNTH_ALLOWED_FETCH_HOSTS=http://127.0.0.1:8765 SCISYNTH_ARXIV_DELAY_SECONDS=0 scisynth fetch 1605.08386
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from evals.loopback import LoopbackServer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RECORDED = DATA / "arxiv-api"
# PDFs served for these arXiv ids (any recorded id may be fetched; the file is one of the real papers).
PDF_FOR_ID = {"1605.08386v1": "acl_N18-3011.pdf", "2104.12255v1": "acl_2020.acl-main.207.pdf"}


def _key(query: dict[str, list[str]]) -> tuple[str, ...]:
    """Id look-ups match on ids and offset; searches on query, offset and page size."""
    def one(name: str, default: str = "") -> str:
        return query.get(name, [default])[0]

    if one("id_list"):
        return "id", one("id_list"), one("start", "0")
    return "q", one("search_query"), one("start", "0"), one("max_results", "10")


def recorded_responses() -> dict[tuple[str, ...], tuple[int, bytes]]:
    responses = {}
    for path in (RECORDED / "arxiv-py").glob("*.json"):
        record = json.loads(path.read_text())
        responses[_key(parse_qs(urlsplit(record["url"]).query, keep_blank_values=True))] = (
            record["status_code"], record["body"].encode())
    rsxiv = RECORDED / "rsxiv"
    responses[("q", "all:electron AND all:proton", "0", "10")] = (200, (rsxiv / "query.xml").read_bytes())
    responses[("id", "2201.13455,2201.13452,2201.13453,2201.13454", "0")] = (
        200, (rsxiv / "query_missing_id.xml").read_bytes())
    responses[("id", "1201.56789", "0")] = (200, (rsxiv / "query_empty.xml").read_bytes())
    return responses


@dataclass
class Fault:
    """What the next matching request gets instead of the recording."""

    status: int = 503
    body: bytes = b"busy"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class ReplayServer(LoopbackServer):
    def __init__(self, port: int = 0) -> None:
        self.responses = recorded_responses()
        self.faults: list[Fault] = []
        self.requests: list[tuple[float, str]] = []
        self.pdf_routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((time.monotonic(), self.path))
                status, headers, body = server.answer(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        super().__init__(Handler, port)

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        if self.faults:
            fault = self.faults.pop(0)
            time.sleep(fault.delay)
            return fault.status, fault.headers, fault.body
        if parts.path.startswith("/pdf/"):
            name = parts.path.removeprefix("/pdf/")
            if name in self.pdf_routes:
                return self.pdf_routes[name]
            if name in PDF_FOR_ID:
                return 200, {"Content-Type": "application/pdf"}, (DATA / "papers" / PDF_FOR_ID[name]).read_bytes()
            return 404, {}, b"not found"
        status, body = self.responses.get(_key(parse_qs(parts.query, keep_blank_values=True)),
                                          (200, (RECORDED / "rsxiv" / "query_empty.xml").read_bytes()))
        return status, {"Content-Type": "application/atom+xml"}, body


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay recorded arXiv API responses on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with ReplayServer(args.port) as server:
        print(f"arXiv replay on {server.base} (API {server.base}/api/query, PDFs {server.base}/pdf/)", flush=True)
        server.thread.join()


if __name__ == "__main__":
    main()
