"""The paper library over HTTP: list, add (arXiv id or PDF upload, as a durable background job), get,
delete, search, and hypotheses on a topic.

The library is shared by the deployment (a lab library): every key reads it; members add papers; a paper
is deleted only by the key that added it or by an admin.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.nodes import EMPTY_LIBRARY
from agent.runtime import Runtime
from agent.turn import TurnRequest
from api import problems
from api.deps import JobsDep, LibraryDep, Member, Reader, RuntimeDep, TurnsDep
from api.routes_conversations import Offset
from api.schemas import (
    CitedBy,
    Hypotheses,
    Job,
    Paper,
    PaperContents,
    PaperList,
    PaperOpenQuestion,
    PaperSection,
    References,
    SearchResults,
)
from service.jobs import admit
from service.library import ListedPaper
from service.pages import stored_pdf
from store.catalog import PaperRow
from store.jobs import JobQueue, JobRow
from store.keys import Caller
from store.sorts import LIBRARY_SORTS
from tools.arxiv_ids import ARXIV_ID_PATTERN
from tools.bibliography import BibliographyError, bibliography_text
from tools.zotero import ZoteroLibrary

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["library"], responses=problems.COMMON)
PaperId = Annotated[str, Path(min_length=1, max_length=300, description="a paper id from GET /v1/papers")]
_COPY_CHUNK = 1 << 20


class NewPaper(BaseModel):
    arxiv_id: str = Field(pattern=ARXIV_ID_PATTERN, max_length=40, description="an arXiv id, e.g. 2104.12255")


class HypothesesRequest(BaseModel):
    topic: str = Field(min_length=3, max_length=1000)
    n: int = Field(default=3, ge=1, le=10)


def _paper(row: PaperRow, listed: ListedPaper | None = None) -> Paper:
    counts = {"passages": listed.passages, "references": listed.references, "cited_by": listed.cited_by,
              "has_pdf": stored_pdf(row) is not None} if listed else {}
    return Paper(paper_id=row.paper_id, title=row.title, authors=row.authors, year=row.year, source=row.source,
                 url=row.url, doi=row.doi, pages=row.page_count, license=row.license, venue=row.venue,
                 reader=row.reader, reader_note=row.reader_note, **counts)


@router.get("/papers")
def list_papers(library: LibraryDep, _caller: Reader, offset: Offset = 0,
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                q: Annotated[str | None, Query(max_length=200, description="only papers whose title, authors, "
                                               "venue, DOI or id contain this (any case)")] = None,
                sort: Annotated[Literal[LIBRARY_SORTS], Query(description="the order")] = "added",  # type: ignore[valid-type]
                order: Annotated[Literal["asc", "desc"], Query()] = "asc") -> PaperList:
    """The library's papers with their metadata and counts (passages read, references found, cited by)."""
    listed, total = library.listing(q, sort, order == "desc", offset, limit)
    return PaperList(papers=[_paper(paper.row, paper) for paper in listed], total=total,
                     hint=EMPTY_LIBRARY if library.count() == 0 else None)


_FILE_FIELD = {"multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                  "properties": {"file": {"type": "string", "format": "binary"}}}}}
_ADD_PAPER_BODY = {"required": True, "content": {"application/json": {"schema": NewPaper.model_json_schema()},
                                                 **_FILE_FIELD}}


@router.post("/papers", status_code=202, openapi_extra={"requestBody": _ADD_PAPER_BODY},
             responses=problems.responses(400, 403, 415))  # 429 (too many jobs waiting) is in COMMON
async def add_paper(request: Request, runtime: RuntimeDep, jobs: JobsDep, caller: Member) -> Job:
    """JSON {"arxiv_id"} fetches from arXiv; a multipart `file` upload ingests a PDF. Both run as jobs:
    poll GET /v1/jobs/{id}."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return Job(**(await _accept_upload(request, runtime, jobs, caller)).public())
    try:
        body = NewPaper.model_validate_json(await request.body())
    except ValidationError as error:
        reason = "; ".join(e["msg"] for e in error.errors())[:500]
        raise HTTPException(422, f"send JSON {{\"arxiv_id\": \"2104.12255\"}} or a multipart PDF 'file': "
                                 f"{reason}") from error
    admit(runtime, jobs, caller.owner)
    return Job(**jobs.submit("arxiv", {"arxiv_id": body.arxiv_id}, caller.owner).public())


async def _receive(request: Request, folder: FilePath) -> tuple[FilePath, int, str]:
    """Stream the multipart field 'file' to a hidden file in `folder` (the guard caps the bytes received);
    returns its path, its size and the client's file name (never used as a path). Nothing is left on disk when
    the upload fails."""
    try:
        form = await request.form(max_files=1, max_fields=5)
    except StarletteHTTPException:  # the body cap, or Starlette's own 400 for broken framing
        raise
    except Exception as error:  # malformed multipart framing
        raise HTTPException(400, "the multipart body could not be read; send the file as a field named 'file'"
                            ) from error
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(422, "send the file as a multipart field named 'file'")
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        size = 0
        with os.fdopen(handle, "wb") as out:
            while piece := await upload.read(_COPY_CHUNK):
                size += len(piece)
                out.write(piece)
        await upload.close()
    except BaseException:
        FilePath(temporary).unlink(missing_ok=True)
        raise
    return FilePath(temporary), size, FilePath(upload.filename or "").name[:200]


async def _accept_upload(request: Request, runtime: Runtime, jobs: JobQueue, caller: Caller) -> JobRow:
    """Receive the upload under papers/uploads, check that it is a PDF by its content and that the key's quota
    has room, then queue the ingest. The quota check and the queueing run with no await between them, so
    simultaneous uploads of one key cannot all slip under the quota."""
    folder = runtime.settings.storage.papers_dir / "uploads"
    temporary, size, name = await _receive(request, folder)
    try:
        with temporary.open("rb") as received:
            if received.read(5) != b"%PDF-":
                raise HTTPException(415, "the file is not a PDF (it does not start with %PDF-); upload a PDF")
        admit(runtime, jobs, caller.owner, size)
        target = folder / f"{uuid.uuid4().hex}.pdf"  # the stored name never comes from the client
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return jobs.submit("upload", {"path": str(target), "bytes": size, "filename": name or "upload.pdf"},
                       caller.owner)


@router.post("/papers/import", status_code=202, responses=problems.responses(400, 422),
             openapi_extra={"requestBody": {"required": True, "content": _FILE_FIELD}})
async def import_bibliography(request: Request, runtime: RuntimeDep, jobs: JobsDep, caller: Member) -> Job:
    """A BibTeX or RIS export (multipart `file`) imported as a job: arXiv entries fetched, the rest kept as
    metadata-only papers; entries that cannot be read are listed with their line. A file that is not UTF-8 BibTeX
    or RIS is refused here (422); its entries are read by the job. Poll GET /v1/jobs/{id}."""
    admit(runtime, jobs, caller.owner)  # before the upload is read
    folder = runtime.settings.storage.papers_dir / "imports"
    temporary, _size, name = await _receive(request, folder)
    suffix = FilePath(name).suffix.lower()
    target = folder / f"{uuid.uuid4().hex}{suffix if suffix in ('.bib', '.ris') else '.txt'}"
    os.replace(temporary, target)
    try:  # only the checks that parse nothing run here; the entries are read by the job, in a bounded child process
        await run_in_threadpool(bibliography_text, target)
        admit(runtime, jobs, caller.owner)
    except BibliographyError as error:
        target.unlink(missing_ok=True)
        raise HTTPException(422, str(error).replace(str(target), name or "the file")) from error
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return Job(**jobs.submit("import", {"path": str(target), "filename": name or "import"}, caller.owner).public())


class ZoteroSyncRequest(BaseModel):
    library: str = Field(pattern=r"^(user|group)s?:\d+$", max_length=40, description="user:ID or group:ID")
    collection: str | None = Field(default=None, pattern=r"^[A-Z0-9]{8}$", description="a collection key")


@router.post("/zotero/sync", status_code=202, responses=problems.responses(403, 409, 422))
def sync_zotero(body: ZoteroSyncRequest, runtime: RuntimeDep, jobs: JobsDep, caller: Member) -> Job:
    """Sync a Zotero library (or collection) in with the server's ZOTERO_API_KEY, as a job: items with their PDFs;
    after the first sync, only what changed. Poll GET /v1/jobs/{id}."""
    if not runtime.settings.zotero.zotero_api_key:
        raise HTTPException(409, "Zotero is not set up on this server: the operator sets ZOTERO_API_KEY to a key "
                                 "that can read the library")
    library = str(ZoteroLibrary.parse(body.library))
    if not caller.can("admin") and library not in runtime.settings.zotero.library_list:
        raise HTTPException(403, f"members may sync only the libraries the operator lists in ZOTERO_LIBRARIES, and "
                                 f"{library} is not one of them; ask an admin")
    admit(runtime, jobs, caller.owner)
    return Job(**jobs.submit("zotero", body.model_dump(), caller.owner).public())


@router.get("/jobs/{job_id}", responses=problems.responses(404))
def job_status(jobs: JobsDep, caller: Reader, job_id: Annotated[str, Path(max_length=64)]) -> Job:
    job = jobs.get(job_id)
    if job is None or not (caller.can("admin") or job.owner == caller.owner):
        raise HTTPException(404, f"no job {job_id} for this key")
    return Job(**job.public())


# Declared before /papers/{paper_id:path}, which would otherwise take "ID/references" for a paper id.
@router.get("/papers/{paper_id:path}/references", responses=problems.responses(404))
def paper_references(library: LibraryDep, _caller: Reader, paper_id: PaperId) -> References:
    """The paper's parsed reference list; `in_library` names the library paper an entry cites, if any."""
    return References(paper_id=paper_id, references=library.references(paper_id))


@router.get("/papers/{paper_id:path}/cited-by", responses=problems.responses(404))
def paper_cited_by(library: LibraryDep, _caller: Reader, paper_id: PaperId) -> CitedBy:
    """The library papers whose reference lists cite this paper."""
    return CitedBy(paper_id=paper_id, cited_by=[_paper(row) for row in library.cited_by(paper_id)])


@router.get("/papers/{paper_id:path}/contents", responses=problems.responses(404))
def paper_contents(library: LibraryDep, _caller: Reader, paper_id: PaperId) -> PaperContents:
    """The paper's sections in reading order (a table of contents) and the open questions it states."""
    contents = library.contents(paper_id).as_dict()
    return PaperContents(paper_id=paper_id, sections=[PaperSection(**row) for row in contents["sections"]],
                         open_questions=[PaperOpenQuestion(**row) for row in contents["open_questions"]])


@router.get("/papers/{paper_id:path}", responses=problems.responses(404))
def get_paper(library: LibraryDep, _caller: Reader, paper_id: PaperId) -> Paper:
    listed = library.listed(paper_id)
    return _paper(listed.row, listed)


@router.delete("/papers/{paper_id:path}", status_code=204, responses=problems.responses(403, 404))
def delete_paper(library: LibraryDep, caller: Member, paper_id: PaperId) -> Response:
    library.delete(paper_id, caller.owner, admin=caller.can("admin"))
    return Response(status_code=204)


@router.get("/search")
def search(library: LibraryDep, _caller: Reader, q: Annotated[str, Query(min_length=1, max_length=2000)],
           k: Annotated[int, Query(ge=1, le=50)] = 10) -> SearchResults:
    if not q.strip():
        raise HTTPException(422, "q must not be blank")
    return SearchResults(results=[p.public() for p in library.search(q, k=k)])


@router.post("/hypotheses")
async def hypotheses(body: HypothesesRequest, turns: TurnsDep, _caller: Reader) -> Hypotheses:
    result = await run_in_threadpool(turns.run, TurnRequest(question=body.topic, mode="hypothesize", n=body.n))
    return Hypotheses(hypotheses=result.hypotheses, open_questions=result.open_questions,
                      hypotheses_note=result.hypotheses_note, citations=result.citations, answer=result.answer)
