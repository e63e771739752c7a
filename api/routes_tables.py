"""Evidence tables over HTTP: POST /v1/tables queues a table as a job (its rows are readable at GET /v1/jobs/{id}
as each is done); GET /v1/tables/{job_id} downloads a finished table as Markdown, CSV, Excel or JSON."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from agent.evidence_tables import MAX_COLUMN_CHARS, MAX_COLUMNS, MAX_ROWS, EvidenceTable, Row, columns_for
from api import problems
from api.deps import JobsDep, Reader, RuntimeDep, TablesDep, may_read_arxiv
from api.routes_conversations import _owned
from api.schemas import Job, encodable
from api.table_formats import EXTENSIONS, MEDIA_TYPES, write
from service.errors import NotYoursError
from service.jobs import admit
from store.watches import WatchError

router = APIRouter(prefix="/v1", tags=["tables"], responses=problems.COMMON)


class TableRequest(BaseModel):
    """Rows from any of papers, query, conversation_id and watch_id (together, in that order); columns from the
    preset, then `columns`."""

    papers: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(default=None, max_length=MAX_ROWS,
                                                                        description="paper ids")
    query: str | None = Field(default=None, min_length=1, max_length=1000, description="the best-ranked papers "
                              "for this search")
    n: int = Field(default=10, ge=1, le=MAX_ROWS, description="with query: this many papers")
    conversation_id: str | None = Field(default=None, max_length=64, description="the papers this conversation's "
                                        "answers cite")
    watch_id: str | None = Field(default=None, max_length=64, description="the papers this watch has added")
    columns: list[Annotated[str, Field(min_length=1, max_length=MAX_COLUMN_CHARS)]] = Field(
        default_factory=list, max_length=MAX_COLUMNS, description="questions, e.g. 'Sample size?'")
    preset: Literal["clinical", "ml"] | None = None
    arxiv: bool = Field(default=False, description="with query: first read arXiv's papers on it that the library "
                        "lacks into it (adds papers: needs the 'member' role)")

    @field_validator("query", "conversation_id", "watch_id")
    @classmethod
    def text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return None if value is None else encodable(value)

    @field_validator("papers", "columns")
    @classmethod
    def texts(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else [encodable(v) for v in values]


@router.post("/tables", status_code=202, responses=problems.responses(400, 403, 404, 409))
async def create_table(body: TableRequest, runtime: RuntimeDep, jobs: JobsDep, tables: TablesDep,
                       caller: Reader) -> Job:
    """Queue an evidence table: papers as rows, the questions as columns, each cell a quote with its page or "not
    reported". Poll GET /v1/jobs/{id}: its results are the rows done so far; then GET /v1/tables/{id}?format=csv.
    With `arxiv`, arXiv's papers on the query are read into the library first (this answer's `note` says which)."""
    if body.arxiv:
        may_read_arxiv(caller, tables.new_papers, 'build the table without "arxiv"')
    admit(runtime, jobs, caller.owner)  # before any arXiv reading: a key with its share of jobs waiting reads none
    read = None
    try:
        columns_for(body.columns, body.preset)  # a bad column is the caller's to fix now, not the job's
        if body.arxiv:
            read = await run_in_threadpool(tables.read_arxiv, body.query, caller.owner)
        conversation = _owned(runtime, body.conversation_id, caller).id if body.conversation_id else None
        owner = None if caller.can("admin") else caller.owner
        papers = await run_in_threadpool(tables.papers, body.papers, body.query, body.n, conversation,
                                         body.watch_id, owner)
        papers = [paper.paper_id for paper in tables.builder.known(papers)]
    except (WatchError, NotYoursError) as error:  # another key's watch is not there for this one
        raise HTTPException(404, f"no watch {body.watch_id} for this key") from error
    except ValueError as error:
        raise HTTPException(400, str(error)) from error
    return Job(**jobs.submit("table", {"papers": papers, "columns": body.columns,
                                       "preset": body.preset}, caller.owner).public(), note=read)


@router.get("/tables/{job_id}", responses={**problems.responses(404, 409), 200: {
    "description": "the table", "content": {media: {} for media in MEDIA_TYPES.values()}}})
def download_table(jobs: JobsDep, caller: Reader, job_id: Annotated[str, Path(max_length=64)],
                   fmt: Annotated[Literal["markdown", "csv", "xlsx", "json"], Query(alias="format")] = "csv"
                   ) -> Response:
    """A finished table job's table as Markdown, CSV, Excel (quotes as cell comments and a Quotes sheet) or JSON."""
    job = jobs.get(job_id)
    if job is None or job.kind != "table" or not (caller.can("admin") or job.owner == caller.owner):
        raise HTTPException(404, f"no table job {job_id} for this key")
    if job.status == "failed":
        raise HTTPException(409, f"the table job failed: {job.error}")
    if job.status != "done":
        raise HTTPException(409, f"the table job is {job.status}: download it when GET /v1/jobs/{job_id} says done")
    results = job.public()["results"]
    rows = [Row.model_validate(result) for result in results if result["status"] == "row"]
    names = [c.name for c in columns_for(job.payload.get("columns") or None, job.payload.get("preset"))]
    skipped = [r["paper_id"] for r in results if r["status"] != "row"]
    trace = [f"job {job.id}"] + ([f"left out, deleted since: {', '.join(skipped)}"] if skipped else [])
    table = EvidenceTable(columns=names, rows=rows, trace=trace)
    return Response(write(table, fmt), media_type=MEDIA_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="table-{job.id}.{EXTENSIONS[fmt]}"'})
