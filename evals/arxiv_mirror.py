"""An arXiv API server on 127.0.0.1 over a file of real arXiv abstracts (JSONL: id, title, authors,
abstract, dates, sets), so novelty checks and literature searches can run against real arXiv records
without the internet. It speaks the arXiv API's protocol (`/api/query` with `search_query` or
`id_list`, `start`, `max_results`; Atom XML answers) and ranks with BM25 over title and abstract, as a
stand-in for arXiv's own relevance ranking (field prefixes and boolean words are read as plain terms).

Used by the hypotheses eval (restated abstracts must be found as prior work) and by tests; by hand:
    python -m evals.arxiv_mirror ../shared/data/arxiv-abstracts/arxiv_abstracts_2023-03-07.jsonl --port 8766
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import bm25s
import Stemmer

from evals.loopback import LoopbackServer

_FIELD = re.compile(r"\b(?:ti|au|abs|cat|all|co|jr|rn|id):", re.IGNORECASE)
_OPERATORS = re.compile(r"\b(?:AND|OR|ANDNOT)\b|[()\"]")
_STEMMER = Stemmer.Stemmer("english")


def _entry(record: dict) -> str:
    published = f"{(record.get('dates') or ['2000-01-01'])[0]}T00:00:00Z"
    updated = f"{(record.get('dates') or ['2000-01-01'])[-1]}T00:00:00Z"
    categories = record.get("sets") or ["cs"]
    authors = record.get("authors") or []
    authors = authors if isinstance(authors, list) else [authors]
    names = "".join(f"<author><name>{escape(' '.join(reversed(a.split(', '))))}</name></author>" for a in authors)
    return (f"<entry><id>http://arxiv.org/abs/{record['id']}v1</id><updated>{updated}</updated>"
            f"<published>{published}</published><title>{escape(record['title'])}</title>"
            f"<summary>{escape(record['abstract'])}</summary>{names}"
            f'<link href="https://arxiv.org/abs/{record["id"]}v1" rel="alternate" type="text/html"/>'
            f'<link title="pdf" href="https://arxiv.org/pdf/{record["id"]}v1" rel="related" type="application/pdf"/>'
            f'<arxiv:primary_category term="{escape(categories[0])}"/>'
            + "".join(f'<category term="{escape(c)}"/>' for c in categories) + "</entry>")


def feed(records: list[dict], total: int, start: int) -> bytes:
    body = "".join(_entry(r) for r in records)
    return ('<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">'
            f"<id>http://127.0.0.1/api/query</id><title>arXiv mirror</title><updated>2026-01-01T00:00:00Z</updated>"
            f"<opensearch:totalResults>{total}</opensearch:totalResults>"
            f"<opensearch:startIndex>{start}</opensearch:startIndex>"
            f"<opensearch:itemsPerPage>{len(records)}</opensearch:itemsPerPage>{body}</feed>").encode()


class ArxivMirror(LoopbackServer):
    """The server; `with ArxivMirror(path) as mirror:` then point SCISYNTH_ARXIV_API_URL at `mirror.api_url`."""

    def __init__(self, records_path: Path, port: int = 0, exclude: set[str] = frozenset()) -> None:
        lines = Path(records_path).read_text(encoding="utf-8").splitlines()
        self.records = [r for r in map(json.loads, filter(None, lines)) if r["id"] not in exclude]
        self.by_id = {r["id"]: r for r in self.records}
        self.index = bm25s.BM25()
        self.index.index(bm25s.tokenize([f"{r['title']} {r['abstract']}" for r in self.records], stopwords="en",
                                        stemmer=_STEMMER, show_progress=False), show_progress=False)
        self.requests: list[str] = []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                if urlsplit(self.path).path != "/api/query":  # abstracts only: PDFs are not mirrored
                    self.send_error(404, "this mirror serves the arXiv API (/api/query), not PDFs")
                    return
                query = parse_qs(urlsplit(self.path).query)
                start = int(query.get("start", ["0"])[0])
                size = min(int(query.get("max_results", ["10"])[0]), 100)
                ids = [i for i in query.get("id_list", [""])[0].split(",") if i]
                found = [mirror.by_id[re.sub(r"v\d+$", "", i)] for i in ids if re.sub(r"v\d+$", "", i) in mirror.by_id]
                if not ids:
                    found = mirror.search(query.get("search_query", [""])[0], start + size)
                payload = feed(found[start:start + size], len(found), start)
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        super().__init__(Handler, port)

    def search(self, query: str, depth: int) -> list[dict]:
        text = _OPERATORS.sub(" ", _FIELD.sub(" ", query))
        tokens = bm25s.tokenize([text], stopwords="en", stemmer=_STEMMER, show_progress=False)
        if not tokens.vocab:
            return []
        positions, scores = self.index.retrieve(tokens, k=min(depth, len(self.records)), show_progress=False)
        return [self.records[int(p)] for p, s in zip(positions[0], scores[0], strict=True) if s > 0]

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/query"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records", type=Path, help="JSONL of arXiv abstracts (id, title, authors, abstract)")
    parser.add_argument("--port", type=int, default=8766, help="port on 127.0.0.1 (default 8766)")
    args = parser.parse_args()
    with ArxivMirror(args.records, args.port) as mirror:
        print(f"arXiv mirror of {len(mirror.records)} abstracts at {mirror.api_url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
