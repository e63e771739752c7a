"""The evidence to look at: a quote in its passage, the cited PDF page with the quote highlighted, the PDF.

Every key may read the library, so every key may see its pages. The routes are declared before the library's
GET /v1/papers/{paper_id}, whose path would otherwise take "ID/pages/3.png" for a paper id.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote as url_quote
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse, Response

from api import problems
from api.deps import PagesDep, Reader, RuntimeDep
from api.page_links import read_link
from api.routes_library import PaperId
from api.schemas import Highlight, PageImage, QuotedPassage, QuoteView
from service.errors import NoPagesError, UnknownPaperError
from service.pages import MAX_QUOTE, snap
from tools.page_render import DEFAULT_ZOOM, MAX_ZOOM, MIN_ZOOM

router = APIRouter(prefix="/v1", tags=["library"], responses=problems.COMMON)
QuoteText = Annotated[str, Query(max_length=MAX_QUOTE, description="the quoted text, verbatim")]
Zoom = Annotated[float, Query(ge=MIN_ZOOM, le=MAX_ZOOM, description="pixels per PDF point")]
PageNumber = Annotated[int, Path(ge=1, le=100_000, description="1 for the first page")]


def _paper_path(paper_id: str) -> str:
    return f"/v1/papers/{url_quote(paper_id, safe='')}"


def _image_url(paper_id: str, page: int, key: str) -> str:
    """A drawn page's address by its cache key: short, however long the quote."""
    return f"{_paper_path(paper_id)}/pages/{page}.png?{urlencode({'drawn': key})}"


@router.get("/papers/{paper_id:path}/quote", responses=problems.responses(404))
def quote_in_paper(pages: PagesDep, _caller: Reader, paper_id: PaperId,
                   text: Annotated[str, Query(min_length=1, max_length=MAX_QUOTE,
                                              description="the quoted text, verbatim")],
                   page: Annotated[int | None, Query(ge=1, le=100_000, description="the cited page")] = None,
                   zoom: Zoom = DEFAULT_ZOOM) -> QuoteView:
    """Where a quote is: the passage holding it (any paper) and, for a PDF, the page images with its words
    highlighted (the cited page, and the next when the quote runs on)."""
    try:
        view = pages.quote(paper_id, text, page, zoom)
    except NoPagesError as error:
        raise HTTPException(404, str(error)) from error
    highlight = None
    if view.location is not None:
        highlight = Highlight(found=view.location.found, coverage=round(view.location.coverage, 3), zoom=snap(zoom),
                              images=[PageImage(page=p, url=_image_url(paper_id, p, key),
                                                boxes=[[round(v, 1) for v in box]
                                                       for box in view.location.boxes.get(p, [])])
                                      for p, key in view.keys.items()])
    passage = QuotedPassage(**view.public()["passage"]) if view.passage else None
    return QuoteView(paper_id=view.paper_id, title=view.title, page=view.page, page_count=view.page_count,
                     passage=passage, highlight=highlight, note=view.note,
                     pdf_url=f"{_paper_path(paper_id)}/pdf" if view.has_pdf else None)


@router.get("/papers/{paper_id:path}/pages/{page}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, **problems.responses(404)})
def page_image(pages: PagesDep, _caller: Reader, paper_id: PaperId, page: PageNumber, quote: QuoteText = "",
               zoom: Zoom = DEFAULT_ZOOM,
               located_on: Annotated[int | None, Query(alias="from", ge=1, le=100_000,
                                                       description="the page before, when the quote began there "
                                                       "and runs on to this one")] = None,
               drawn: Annotated[str | None, Query(pattern="^[0-9a-f]{64}$", description="a drawn page's key, as "
                                                  "GET .../quote's image addresses give it")] = None) -> Response:
    """A page of the paper's PDF as PNG, the quote's words highlighted. X-Quote-Found says whether they are
    highlighted on this page (`yes`, `no`, or `none` when no quote was given)."""
    try:
        picture = pages.drawn(paper_id, drawn) if drawn else pages.page(paper_id, page, quote, zoom, located_on)
    except NoPagesError as error:
        raise HTTPException(404, str(error)) from error
    if picture is None or picture.page != page:
        raise HTTPException(404, "this drawn page is no longer kept: open the quote again (GET .../quote)")
    found = "none" if not (quote.strip() or drawn) else "yes" if page in picture.location.boxes else "no"
    return Response(picture.png, media_type="image/png",
                    headers={"X-Quote-Found": found, "Cache-Control": "private, max-age=3600"})


@router.get("/shared/pages/{token}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, **problems.responses(404)})
def shared_page_image(pages: PagesDep, runtime: RuntimeDep,
                      token: Annotated[str, Path(max_length=4000, description="a signed page link's token")]
                      ) -> Response:
    """A cited page, highlighted, from a signed link (as Slack shows them): no API key; the link names its page."""
    try:
        paper_id, page, quote = read_link(token, runtime.settings.service.link_secret)
        picture = pages.page(paper_id, page, quote)
    except ValueError as error:
        raise HTTPException(404, str(error)) from error
    except (NoPagesError, UnknownPaperError) as error:
        raise HTTPException(404, "the page of this link is no longer in the library") from error
    return Response(picture.png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/papers/{paper_id:path}/pdf", response_class=FileResponse,
            responses={200: {"content": {"application/pdf": {}}}, **problems.responses(404)})
def paper_pdf(pages: PagesDep, _caller: Reader, paper_id: PaperId) -> FileResponse:
    """The stored PDF (append #page=N to open it at a page)."""
    try:
        row, path = pages.pdf(paper_id)
    except NoPagesError as error:
        raise HTTPException(404, str(error)) from error
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in row.paper_id)[:80] or "paper"
    return FileResponse(path, media_type="application/pdf", filename=f"{name}.pdf", content_disposition_type="inline")
