"""The shapes of the HTTP API's responses (each route's `response_model`), so the OpenAPI schema documents every
answer and schemathesis checks each response against it. A turn's answer is agent/turn.py's TurnResult."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.state import Citation, Fallback, Hypothesis, OpenQuestion, TraceEvent
from retrieval.library_map import MapCluster, MapPoint


def encodable(text: str) -> str:
    """A request field's validator: JSON allows lone surrogates (`\\ud800`); text SciSynth stores and searches must
    be valid Unicode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("the text is not valid Unicode (it holds a lone surrogate)") from error
    return text


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, bool] = Field(description="database, index (holds exactly the catalog's chunks), model, "
                                    "serving (false while draining after SIGTERM)")
    hint: str | None = None


class Conversation(BaseModel):
    id: str
    title: str
    created_at: str


class ConversationList(BaseModel):
    conversations: list[Conversation]
    offset: int
    limit: int


class Message(BaseModel):
    """A stored message; an assistant message keeps its turn's citations, hypotheses and trace."""

    model_config = ConfigDict(extra="allow")

    id: int
    role: Literal["user", "assistant", "error"]
    content: str
    created_at: str
    citations: list[Citation] | None = None
    hypotheses: list[Hypothesis] | None = None
    open_questions: list[OpenQuestion] | None = None
    fallbacks: list[Fallback] | None = None
    trace: list[TraceEvent] | None = None


class ConversationDetail(Conversation):
    messages: list[Message]


class Paper(BaseModel):
    paper_id: str
    title: str
    authors: list[str]
    year: int | None
    source: str
    url: str | None
    doi: str | None
    pages: int | None
    license: str | None
    venue: str | None = Field(default=None, description="the journal, proceedings or preprint server")
    reader: str | None = Field(default=None, description="which PDF reader read it: fonts, or the layout model "
                               "when the font reader's parse looked wrong (reader_note says why)")
    reader_note: str | None = None
    passages: int | None = Field(default=None, description="passages read from it")
    references: int | None = Field(default=None, description="entries found in its reference list")
    cited_by: int | None = Field(default=None, description="library papers whose reference lists cite it")
    has_pdf: bool | None = Field(default=None, description="its PDF is stored here: GET /v1/papers/ID/pdf")


class PaperSection(BaseModel):
    section: str
    page: int | None = Field(description="the page it starts on")


class PaperOpenQuestion(BaseModel):
    text: str
    kind: str = Field(description="limitation, future work, open question or negative result")
    section: str
    page: int | None


class PaperContents(BaseModel):
    paper_id: str
    sections: list[PaperSection] = Field(description="the table of contents, in reading order")
    open_questions: list[PaperOpenQuestion] = Field(description="what the paper states it leaves open")


class PaperList(BaseModel):
    papers: list[Paper]
    total: int
    hint: str | None = Field(default=None, description="what to do when the library is empty")


class Reference(BaseModel):
    position: int
    title: str
    authors: list[str]
    year: int | None
    doi: str | None
    arxiv_id: str | None
    in_library: str | None = Field(description="the library paper this entry cites, if any")


class References(BaseModel):
    paper_id: str
    references: list[Reference]


class CitedBy(BaseModel):
    paper_id: str
    cited_by: list[Paper]


class SearchHit(BaseModel):
    paper_id: str
    title: str
    section: str
    page: int | None
    page_start: int | None
    page_end: int | None
    score: float
    text: str
    url: str | None
    year: int | None


class SearchResults(BaseModel):
    results: list[SearchHit]


class Hypotheses(BaseModel):
    hypotheses: list[Hypothesis]
    open_questions: list[OpenQuestion]
    hypotheses_note: str
    citations: list[Citation]
    answer: str


class Job(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    results: list[dict[str, Any]] = Field(description="one per item: path, status, paper_id, title, chunks, error, "
                                         "reader and reader_note (a PDF the layout model read, and why)")
    error: str | None
    created_at: str
    updated_at: str
    note: str | None = Field(default=None, description="what was done before the job was queued (a table's arXiv "
                             "reading)")


class Watch(BaseModel):
    id: str
    name: str
    query: str
    questions: list[str]
    every_hours: float
    max_results: int
    with_pdf: bool
    next_run_at: str
    last_run_at: str | None
    last_status: str | None


class WatchList(BaseModel):
    watches: list[Watch]


class Digest(BaseModel):
    id: str
    watch_id: str
    watch_name: str
    created_at: str
    status: str
    entries: list[dict[str, Any]]
    error: str | None
    delivery: str
    text: str


class DigestList(BaseModel):
    digests: list[Digest]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class ChatChoice(BaseModel):
    index: int
    finish_reason: str
    message: dict[str, str]


class ChatCompletion(BaseModel):
    """OpenAI's chat.completion, with SciSynth's citations and hypotheses beside the message."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: dict[str, int] | None
    citations: list[Citation]
    hypotheses: list[Hypothesis]
    answered: bool
    related: list[dict[str, Any]]


class PageImage(BaseModel):
    page: int
    url: str = Field(description="the page as PNG with the quote highlighted (send the API key to fetch it)")
    boxes: list[list[float]] = Field(description="highlighted boxes on this page, [x0, y0, x1, y1] in PDF points "
                                     "from the top left; the page is drawn at `zoom` pixels a point")


class Highlight(BaseModel):
    found: bool = Field(description="false: the quote's words were not found on the page in order, so nothing is "
                        "highlighted (text read differently from how it is printed: ligatures, hyphens, figures)")
    coverage: float = Field(description="share of the quote's words found in order")
    zoom: float
    images: list[PageImage] = Field(description="the cited page, and the next one when the quote runs on to it")


class QuotedPassage(BaseModel):
    section: str
    page: int | None
    text: str
    start: int = Field(description="where the quote starts in `text`")
    end: int


class QuoteView(BaseModel):
    paper_id: str
    title: str
    page: int | None = Field(description="the page the quote starts on, when known")
    page_count: int | None
    passage: QuotedPassage | None = Field(description="the passage holding the quote; null when the quote is not "
                                          "a verbatim span of this paper")
    highlight: Highlight | None = Field(description="null for a paper without a PDF here (JATS, TEI, abstracts)")
    pdf_url: str | None = Field(description="the stored PDF, for a paper that has one")
    note: str | None = Field(default=None, description="why a PDF page could not be drawn (the passage stands)")


class MapPaper(MapPoint):
    highlight: Literal["watch", "conversation"] | None = Field(description="why the paper is marked, if it is")


class MapLink(BaseModel):
    from_: str = Field(alias="from", description="the citing paper")
    to: str = Field(description="the cited paper")


class LibraryMapView(BaseModel):
    papers: list[MapPaper]
    clusters: list[MapCluster]
    links: list[MapLink]
    layout: Literal["computed", "extended", "kept"] = Field(
        description="computed: laid out now; extended: papers added since placed among their nearest neighbours; "
                    "kept: the layout as it was")
    unplaced: int = Field(description="papers with no passage vectors to place them by (known only as references "
                          "from a bibliography, or not indexed yet)")
    seconds: float
