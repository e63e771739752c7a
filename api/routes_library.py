"""The paper library over HTTP: list, add (arXiv id or PDF upload, as a background job), get, delete,
search, and hypotheses on a topic."""

from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import MetricsDep, Owner, RuntimeDep
from api.metrics import Metrics
from api.routes_conversations import NewMessage, run_message
from retrieval.catalog import PaperRow

router = APIRouter(prefix="/v1", tags=["library"])
_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")


class Jobs:
    """Background ingest jobs and their status, kept in memory (a restart forgets finished jobs)."""

    def __init__(self) -> None:
        self._jobs: dict[str, dict] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, work, metrics: Metrics) -> dict:
        job = {"id": uuid.uuid4().hex, "kind": kind, "status": "queued", "results": [], "error": None}
        with self._lock:
            self._jobs[job["id"]] = job

        def run() -> None:
            job["status"] = "running"
            try:
                results = work()
                job["results"] = [r.public() for r in results]
                for result in results:
                    metrics.ingested.labels(result.status).inc()
                job["status"] = "failed" if results and all(r.status == "failed" for r in results) else "done"
            except Exception as error:
                job["status"], job["error"] = "failed", str(error)

        threading.Thread(target=run, daemon=True).start()
        return job

    def get(self, job_id: str) -> dict | None:
        with self._lock:
            return self._jobs.get(job_id)


class NewPaper(BaseModel):
    arxiv_id: str = Field(description="an arXiv id, e.g. 2104.12255")


class HypothesesRequest(BaseModel):
    topic: str = Field(min_length=3, max_length=1000)
    n: int = Field(default=3, ge=1, le=10)


def _paper(row: PaperRow) -> dict:
    return {"paper_id": row.paper_id, "title": row.title, "authors": row.authors, "year": row.year,
            "source": row.source, "url": row.url, "doi": row.doi, "pages": row.page_count, "license": row.license}


@router.get("/papers")
def list_papers(runtime: RuntimeDep, _owner: Owner, offset: int = 0, limit: int = 50) -> dict:
    rows = runtime.catalog.papers(offset=max(0, offset), limit=min(max(1, limit), 200))
    return {"papers": [_paper(r) for r in rows], "total": runtime.catalog.paper_count()}


@router.post("/papers", status_code=202)
async def add_paper(request: Request, runtime: RuntimeDep, metrics: MetricsDep, _owner: Owner) -> dict:
    """JSON {"arxiv_id"} fetches from arXiv; a multipart `file` upload ingests a PDF. Both run as jobs."""
    jobs: Jobs = request.app.state.jobs
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise HTTPException(422, "send the PDF as a multipart field named 'file'")
        data = await upload.read()
        if not data.startswith(b"%PDF-"):
            raise HTTPException(415, f"{upload.filename} is not a PDF (it does not start with %PDF-)")
        name = re.sub(r"[^\w.-]", "_", Path(upload.filename or "upload.pdf").name)
        target = runtime.settings.papers_dir / "uploads" / f"{uuid.uuid4().hex[:8]}-{name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return jobs.start("upload", lambda: runtime.ingestor.ingest_paths([target]), metrics)
    body = NewPaper.model_validate(await request.json())
    if not _ARXIV_ID.match(body.arxiv_id):
        raise HTTPException(422, f"{body.arxiv_id!r} is not an arXiv id")
    return jobs.start("arxiv", lambda: runtime.fetcher.fetch([body.arxiv_id]), metrics)


@router.get("/jobs/{job_id}")
def job_status(request: Request, job_id: str, _owner: Owner) -> dict:
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job


@router.get("/papers/{paper_id:path}")
def get_paper(runtime: RuntimeDep, _owner: Owner, paper_id: str) -> dict:
    row = runtime.catalog.find_paper(paper_id)
    if row is None:
        raise HTTPException(404, f"no paper {paper_id} in the library")
    return _paper(row)


@router.delete("/papers/{paper_id:path}", status_code=204)
def delete_paper(runtime: RuntimeDep, _owner: Owner, paper_id: str) -> Response:
    if not runtime.ingestor.delete(paper_id):
        raise HTTPException(404, f"no paper {paper_id} in the library")
    return Response(status_code=204)


@router.get("/search")
def search(runtime: RuntimeDep, _owner: Owner, q: str, k: int = 10) -> dict:
    if not q.strip():
        raise HTTPException(422, "q must not be empty")
    return {"results": [p.public() for p in runtime.searcher.search(q, k=min(max(1, k), 50))]}


@router.post("/hypotheses")
async def hypotheses(body: HypothesesRequest, runtime: RuntimeDep, metrics: MetricsDep, _owner: Owner) -> dict:
    result = await run_in_threadpool(run_message, runtime, metrics, None,
                                     NewMessage(content=body.topic, mode="hypothesize", n=body.n))
    return {"hypotheses": result["hypotheses"], "citations": result["citations"], "answer": result["answer"]}
