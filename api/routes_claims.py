"""Claims over HTTP: POST /v1/check judges a claim against the library's papers (agent/claim_check.py); POST
/v1/contradictions finds the findings of two papers on a topic that disagree (agent/contradictions.py)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from agent.claim_check import MAX_CLAIM_CHARS, ClaimCheck
from agent.contradictions import Contradictions
from api import problems
from api.deps import ClaimsDep, ContradictionsDep, Reader, may_read_arxiv
from api.schemas import encodable
from retrieval.search import SearchFilter

router = APIRouter(prefix="/v1", tags=["claims"], responses=problems.COMMON)


class CheckRequest(BaseModel):
    claim: str = Field(min_length=3, max_length=MAX_CLAIM_CHARS, description="one claim, e.g. 'Aspirin lowers the "
                       "risk of stroke'")
    papers: int = Field(default=10, ge=1, le=30, description="judge this many of the best-ranked papers")
    paper_ids: list[str] | None = Field(default=None, max_length=100, description="only these papers")
    year_from: int | None = Field(default=None, ge=0, le=3000)
    year_to: int | None = Field(default=None, ge=0, le=3000)
    arxiv: bool = Field(default=False, description="first search arXiv for the claim and read the papers the library "
                        "lacks into it (adds papers: needs the 'member' role)")

    @field_validator("claim")
    @classmethod
    def not_blank(cls, claim: str) -> str:
        if not claim.strip():
            raise ValueError("the claim must not be blank")
        return encodable(claim)


@router.post("/check", responses=problems.responses(400, 403, 409))
async def check(body: CheckRequest, claims: ClaimsDep, caller: Reader) -> ClaimCheck:
    """Each library paper that bears on the claim with its stance and quoted rationale (page, section), the counts
    and the verdict: supported, contradicted, mixed or insufficient. With `arxiv`, arXiv's papers on the claim that
    the library lacks are read into it first (at most SCISYNTH_PAPERS_PER_TURN; the trace says which)."""
    if body.arxiv:
        may_read_arxiv(caller, claims.new_papers, 'check without "arxiv"')
    where = SearchFilter(paper_ids=body.paper_ids, year_from=body.year_from, year_to=body.year_to)
    try:
        return await run_in_threadpool(claims.check, body.claim, None if where.is_empty() else where, body.papers,
                                       body.arxiv, caller.owner)
    except ValueError as error:  # arXiv asked for with paper_ids
        raise HTTPException(400, str(error)) from error


class ContradictionsRequest(BaseModel):
    topic: str = Field(min_length=3, max_length=1000, pattern=r"\S", description="the topic, e.g. 'aspirin and "
                       "stroke'")
    papers: int = Field(default=10, ge=2, le=20, description="compare the findings of this many best-ranked papers")
    _valid = field_validator("topic")(encodable)


@router.post("/contradictions")
async def contradictions(body: ContradictionsRequest, finder: ContradictionsDep, _caller: Reader) -> Contradictions:
    """Pairs of findings from two library papers on the topic that disagree, both quoted with their pages, the most
    confident first."""
    return await run_in_threadpool(finder.find, body.topic, None, body.papers)
