"""Literature watches: a saved arXiv query plus standing questions, run on a schedule. A run asks arXiv for
the newest matching papers, ingests those the watch has not seen, and writes a digest: each new paper with a
one-line summary and what it says on each standing question, quoted with its page (extractive: no model is
needed, and every line can be checked against the paper).

A paper is never reported twice: the papers a digest reports are marked seen in the same transaction that
stores the digest, so a run cut short by a crash reports them on its re-run. With several service replicas,
exactly one runs a due watch: claiming it moves its next run forward with a conditional UPDATE, which one
replica wins. A run that cannot reach arXiv writes a digest saying so (only the first of a streak of failures)
and is retried within the hour.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, or_, update
from sqlmodel import Field, Session, SQLModel, col, select

from agent.answerability import AnswerabilityJudge
from agent.evidence import SentenceScorer
from agent.papers import PaperFetcher
from agent.prose import is_body_prose
from retrieval.ingest import IngestResult
from retrieval.schema import ensure_schema
from retrieval.search import HybridSearcher, SearchFilter
from tools.arxiv_client import ArxivClient, ArxivError, ArxivPaper, ArxivQueryError, build_query

if TYPE_CHECKING:
    from agent.runtime import Runtime

CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")  # cs.CL, q-bio.NC, hep-th
RETRY_AFTER_FAILURE = timedelta(hours=1)
RUN_LEASE = timedelta(hours=2)  # a run cut short by a crash frees its watch after this
MAX_WATCHES_PER_OWNER = 20
CONTRIBUTION_BONUS = 0.1  # added to a contribution sentence's similarity to the title
# A sentence stating what the paper contributes, preferred as its one-line summary over the topic's framing.
_CONTRIBUTION = re.compile(r"\b(we|this (paper|work|study|article)|our|here)\b.{0,80}?\b(show|find|found|demonstrat|"
                           r"propos|present|introduc|achiev|outperform|report|develop|establish)", re.IGNORECASE)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; every stored one is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class WatchRow(SQLModel, table=True):
    __tablename__ = "watches"

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12], primary_key=True)
    name: str
    query: str  # an arXiv search_query (tools.arxiv_client.build_query)
    questions_json: str = "[]"  # standing questions each digest answers from the new papers
    every_hours: float = 24.0
    max_results: int = 20  # newest papers looked at per run
    with_pdf: bool = True
    owner: str = Field(default="", index=True)
    created_at: datetime = Field(default_factory=_now)
    next_run_at: datetime = Field(default_factory=_now, index=True)
    last_run_at: datetime | None = None
    last_status: str | None = None  # "new papers", "nothing new", "failed"
    running_until: datetime | None = None  # a run holds the watch until it finishes (or this passes)

    @property
    def questions(self) -> list[str]:
        return json.loads(self.questions_json)

    def public(self) -> dict:
        return {"id": self.id, "name": self.name, "query": self.query, "questions": self.questions,
                "every_hours": self.every_hours, "max_results": self.max_results, "with_pdf": self.with_pdf,
                "next_run_at": _aware(self.next_run_at).isoformat(),
                "last_run_at": self.last_run_at and _aware(self.last_run_at).isoformat(),
                "last_status": self.last_status}


class WatchSeenRow(SQLModel, table=True):
    __tablename__ = "watch_seen"

    watch_id: str = Field(primary_key=True)
    arxiv_id: str = Field(primary_key=True)  # without version: a new version is not a new paper


class DigestRow(SQLModel, table=True):
    __tablename__ = "digests"

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12], primary_key=True)
    watch_id: str = Field(index=True)
    watch_name: str
    # the watch's owner (digests stay readable after their watch is removed, and only to that key or an admin)
    owner: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(default_factory=_now, index=True)
    status: str  # "new papers" or "failed"
    entries_json: str = "[]"
    error: str | None = None
    delivery: str = "not sent yet"  # to Slack: "posted", "not configured (...)", "failed: ..."

    @property
    def entries(self) -> list[dict]:
        return json.loads(self.entries_json)

    def public(self) -> dict:
        return {"id": self.id, "watch_id": self.watch_id, "watch_name": self.watch_name,
                "created_at": _aware(self.created_at).isoformat(), "status": self.status, "entries": self.entries,
                "error": self.error, "delivery": self.delivery, "text": digest_text(self)}


class WatchError(ValueError):
    """A watch that cannot be saved as asked (the message says what to change)."""


def watch_query(text: str = "", categories: list[str] | None = None, title: str | None = None,
                author: str | None = None) -> str:
    """The arXiv query a watch runs; WatchError when it would match everything or has a malformed category."""
    categories = [c.strip() for c in categories or [] if c.strip()]
    for category in categories:
        if not CATEGORY.match(category):
            raise WatchError(f"{category!r} is not an arXiv category (e.g. cs.CL, q-bio.NC, hep-th)")
    def plain(value: str | None) -> str | None:  # a double quote inside a quoted arXiv term breaks the query
        return " ".join(value.replace('"', " ").split()) or None if value else None

    query = build_query(text, title=plain(title), author=plain(author), category=categories)
    if not query:
        raise WatchError("give search words, a title or author term, or at least one category")
    return query


class WatchStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_schema(engine)

    def add(self, name: str, query: str, questions: list[str] | None = None, every_hours: float = 24.0,
            max_results: int = 20, with_pdf: bool = True, owner: str = "") -> WatchRow:
        if not name.strip():
            raise WatchError("give the watch a name")
        if not 0.25 <= every_hours <= 24 * 31:
            raise WatchError("run a watch every 0.25 to 744 hours")
        if not 1 <= max_results <= 100:
            raise WatchError("look at 1 to 100 of the newest papers per run")
        questions = [q.strip() for q in questions or [] if q.strip()]
        if len(questions) > 5:
            raise WatchError("at most 5 standing questions per watch")
        row = WatchRow(name=name.strip()[:200], query=query, questions_json=json.dumps(questions),
                       every_hours=every_hours, max_results=max_results, with_pdf=with_pdf, owner=owner)
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
        # Counted after the insert, not before: of keys adding at once, those past the cap (in creation order)
        # take their own watch back, so no race leaves an owner with more than the cap.
        if row.id not in [watch.id for watch in self.list(owner)][:MAX_WATCHES_PER_OWNER]:
            self.remove(row.id)
            raise WatchError(f"at most {MAX_WATCHES_PER_OWNER} watches per key; remove one first")
        return row

    def get(self, watch_id: str) -> WatchRow | None:
        with Session(self.engine) as session:
            return session.get(WatchRow, watch_id)

    def list(self, owner: str | None = None) -> list[WatchRow]:
        """The watches in the order they were saved: one key's, or all (owner None: an admin, the CLI)."""
        query = select(WatchRow).order_by(WatchRow.created_at, WatchRow.id)
        if owner is not None:
            query = query.where(WatchRow.owner == owner)
        with Session(self.engine) as session:
            return list(session.exec(query))

    def postpone(self, watch_id: str, delay: timedelta) -> None:
        """Move a claimed watch's next run to `delay` from now (its owner's job queue was full)."""
        with self.engine.begin() as connection:
            connection.execute(update(WatchRow).where(col(WatchRow.id) == watch_id)
                               .values(next_run_at=_now() + delay))

    def remove(self, watch_id: str) -> bool:
        """Remove a watch and what it has seen; its digests stay readable."""
        with Session(self.engine) as session:
            row = session.get(WatchRow, watch_id)
            if row is None:
                return False
            for seen in session.exec(select(WatchSeenRow).where(WatchSeenRow.watch_id == watch_id)):
                session.delete(seen)
            session.delete(row)
            session.commit()
        return True

    def seen(self, watch_id: str) -> set[str]:
        with Session(self.engine) as session:
            return set(session.exec(select(WatchSeenRow.arxiv_id).where(WatchSeenRow.watch_id == watch_id)))

    def claim_due(self, now: datetime | None = None) -> list[str]:
        """Ids of the due watches this caller won: each is moved to its next run by a conditional UPDATE, so
        of several replicas claiming at once exactly one gets it."""
        now = now or _now()
        with Session(self.engine) as session:
            due = list(session.exec(select(WatchRow).where(WatchRow.next_run_at <= now)))
        won = []
        with self.engine.begin() as connection:
            for row in due:
                claimed = connection.execute(
                    update(WatchRow).where(col(WatchRow.id) == row.id, col(WatchRow.next_run_at) == row.next_run_at)
                    .values(next_run_at=now + timedelta(hours=row.every_hours)))
                if claimed.rowcount == 1:
                    won.append(row.id)
        return won

    def start_run(self, watch_id: str) -> bool:
        """Hold the watch for one run (False when another run holds it: a run now while the schedule runs it, or
        the CLI while the service does), so no two runs report the same papers."""
        now = _now()
        with self.engine.begin() as connection:
            held = connection.execute(update(WatchRow).where(
                col(WatchRow.id) == watch_id,
                or_(col(WatchRow.running_until).is_(None), col(WatchRow.running_until) < now),
            ).values(running_until=now + RUN_LEASE))
        return held.rowcount == 1

    def finish(self, watch: WatchRow, status: str, digest: DigestRow | None, seen: list[str],
               retry_soon: bool = False) -> bool:
        """Record a run in one transaction: its digest, the papers it reported (seen from now on), the watch's
        last run and its next (a run now postpones the scheduled one), and free the watch. `retry_soon`: run again
        within the hour. False when the watch was removed
        while it ran (nothing is stored)."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(WatchRow, watch.id)
            if row is None:
                return False
            now = _now()
            row.last_run_at, row.last_status, row.running_until = now, status, None
            row.next_run_at = now + min(timedelta(hours=row.every_hours),
                                        RETRY_AFTER_FAILURE if retry_soon else timedelta.max)
            session.add(row)
            for arxiv_id in seen:
                session.merge(WatchSeenRow(watch_id=watch.id, arxiv_id=arxiv_id))
            if digest is not None:
                session.add(digest)
            session.commit()
        return True

    def release(self, watch_id: str) -> None:
        """Free a watch whose run ended without finishing (an error)."""
        with self.engine.begin() as connection:
            connection.execute(update(WatchRow).where(col(WatchRow.id) == watch_id).values(running_until=None))

    def set_delivery(self, digest_id: str, delivery: str) -> None:
        with Session(self.engine) as session:
            row = session.get(DigestRow, digest_id)
            if row is not None:
                row.delivery = delivery[:500]
                session.add(row)
                session.commit()

    def digests(self, watch_id: str | None = None, limit: int = 20, owner: str | None = None) -> list[DigestRow]:
        """The newest digests (of one watch; of one owner's watches, or all with owner None)."""
        query = select(DigestRow).order_by(col(DigestRow.created_at).desc()).limit(limit)
        if watch_id is not None:
            query = query.where(DigestRow.watch_id == watch_id)
        if owner is not None:
            query = query.where(DigestRow.owner == owner)
        with Session(self.engine) as session:
            return list(session.exec(query))


@dataclass
class DigestWriter:
    """What a new paper is about, and what it says on each standing question, as quotes with their page."""

    searcher: HybridSearcher
    scorer: SentenceScorer
    judge: AnswerabilityJudge

    def _quote(self, query: str, paper_id: str, bonus: Callable[[str], float] = lambda _text: 0.0) -> dict | None:
        passages = self.searcher.search(query, k=4, where=SearchFilter(paper_ids=[paper_id]))
        scored = [s for sentences in self.scorer.sentences(query, passages, keep=is_body_prose) for s in sentences]
        if not scored:
            return None
        best = max(scored, key=lambda s: s.score + bonus(s.text))
        return {"text": best.text, "page": best.passage.page_of(best.start), "section": best.passage.section,
                "score": round(best.score, 3)}

    def summary(self, paper_id: str, title: str) -> dict | None:
        """The sentence closest to the title's meaning, a sentence stating the contribution ("we show...") ahead
        of one that frames the topic."""
        return self._quote(title, paper_id, bonus=lambda text: CONTRIBUTION_BONUS * bool(_CONTRIBUTION.search(text)))

    def bearing(self, paper_id: str, question: str) -> dict:
        """The paper's best sentence on the question when it addresses it (the assistant's answerability rule)."""
        passages = self.searcher.search(question, k=4, where=SearchFilter(paper_ids=[paper_id]))
        verdict = self.judge.judge(question, passages)
        quote = self._quote(question, paper_id) if verdict.answers else None
        return {"question": question, "addresses": quote is not None, "quote": quote,
                "answerability": round(verdict.probability, 3)}

    def entry(self, paper: ArxivPaper, result: IngestResult, questions: list[str]) -> dict:
        entry = {"arxiv_id": paper.base_id, "paper_id": result.paper_id, "title": paper.title,
                 "authors": paper.authors[:6], "url": paper.abs_url,
                 "published": paper.published and paper.published.date().isoformat(), "note": result.error}
        if result.status == "failed" or result.paper_id is None:
            return {**entry, "paper_id": None, "summary": None, "bearings": []}
        return {**entry, "summary": self.summary(result.paper_id, paper.title),
                "bearings": [self.bearing(result.paper_id, q) for q in questions]}


@dataclass
class WatchRun:
    watch_id: str
    status: str  # "new papers", "nothing new", "failed", "no such watch"
    digest: DigestRow | None = None
    results: list[IngestResult] = field(default_factory=list)  # the new papers' ingests


@dataclass
class WatchRunner:
    store: WatchStore
    arxiv: ArxivClient
    fetcher: PaperFetcher
    writer: DigestWriter
    deliver: Callable[[DigestRow], str] | None = None  # posts a digest (Slack); returns what happened

    def run(self, watch_id: str, pdfs_allowed: bool = True) -> WatchRun:
        """Run one watch now; its digest when there are new papers or arXiv failed. `pdfs_allowed` False (the
        owner's storage quota is full): the new papers are added from their abstracts."""
        watch = self.store.get(watch_id)
        if watch is None:
            return WatchRun(watch_id, "no such watch")
        if not self.store.start_run(watch_id):
            return WatchRun(watch_id, "already running")
        try:
            return self._run(watch, pdfs_allowed)  # finish() frees the watch
        except BaseException:
            self.store.release(watch_id)
            raise

    def _run(self, watch: WatchRow, pdfs_allowed: bool) -> WatchRun:
        try:
            found = self.arxiv.search(watch.query, max_results=watch.max_results, sort_by="submitted", fresh=True)
        except ArxivQueryError as error:
            return self._failed(watch, f"arXiv refused this watch's query ({error}); edit or remove the watch",
                                retry_soon=False)
        except ArxivError as error:
            return self._failed(watch, f"arXiv could not be searched ({error}); the watch tries again within the "
                                       "hour, and no paper is missed", retry_soon=True)
        seen = self.store.seen(watch.id)
        new = list({p.base_id: p for p in found if p.base_id not in seen}.values())
        if not new:
            self.store.finish(watch, "nothing new", None, [])
            return WatchRun(watch.id, "nothing new")
        results = [self.fetcher.ingest(paper, watch.with_pdf and pdfs_allowed, added_by=watch.owner or None)
                   for paper in new]
        if watch.with_pdf and not pdfs_allowed:
            for result in results:
                result.error = result.error or "abstract only: the watch owner's storage quota is full"
        entries = [self.writer.entry(paper, result, watch.questions)
                   for paper, result in zip(new, results, strict=True)]
        reported = [paper.base_id for paper, result in zip(new, results, strict=True)
                    if result.status != "failed"]  # a failed ingest is tried again next run
        digest = DigestRow(watch_id=watch.id, watch_name=watch.name, owner=watch.owner, status="new papers",
                           entries_json=json.dumps(entries))
        if not self.store.finish(watch, "new papers", digest, reported):
            return WatchRun(watch.id, "no such watch", None, results)  # removed while it ran: nothing to post
        return WatchRun(watch.id, "new papers", self._delivered(digest), results)

    def _failed(self, watch: WatchRow, reason: str, retry_soon: bool) -> WatchRun:
        """Say so once per streak of failures."""
        first = watch.last_status != "failed"
        digest = DigestRow(watch_id=watch.id, watch_name=watch.name, owner=watch.owner, status="failed",
                           error=reason) if first else None
        stored = self.store.finish(watch, "failed", digest, [], retry_soon=retry_soon)
        return WatchRun(watch.id, "failed", self._delivered(digest) if digest and stored else None)

    def _delivered(self, digest: DigestRow) -> DigestRow:
        digest.delivery = self.deliver(digest) if self.deliver is not None else (
            "not configured (set SLACK_BOT_TOKEN and SLACK_WATCH_CHANNEL)")
        self.store.set_delivery(digest.id, digest.delivery)
        return digest

    def run_due(self) -> list[WatchRun]:
        """Every due watch this process wins (the CLI's `watch run` without an id)."""
        return [self.run(watch_id) for watch_id in self.store.claim_due()]


def watch_runner(runtime: Runtime, deliver: Callable[[DigestRow], str] | None = None) -> WatchRunner:
    """The runner over a runtime's library, arXiv client and scorer."""
    judge = AnswerabilityJudge(runtime.scorer, runtime.searcher.lexical_index, runtime.settings.answer_threshold)
    return WatchRunner(WatchStore(runtime.engine), runtime.arxiv, runtime.fetcher,
                       DigestWriter(runtime.searcher, runtime.scorer, judge), deliver)


def _cite(entry: dict, quote: dict) -> str:
    page = f", p. {quote['page']}" if quote.get("page") else ""
    return f"\u201c{quote['text']}\u201d (arXiv {entry['arxiv_id']}{page})"


def digest_text(digest: DigestRow) -> str:
    """The digest as plain text with Markdown-style bullets (the CLI, Slack and the web page's copy)."""
    if digest.status == "failed":
        return f"Watch \u201c{digest.watch_name}\u201d: {digest.error}"
    entries = digest.entries
    lines = [f"Watch \u201c{digest.watch_name}\u201d: {len(entries)} new paper{'s' * (len(entries) != 1)}"]
    for entry in entries:
        lines.append(f"\u2022 {entry['title']} ({entry['url']}, {entry['published'] or 'undated'})")
        if entry["summary"]:
            lines.append(f"  {_cite(entry, entry['summary'])}")
        elif entry["paper_id"] is None:
            lines.append(f"  could not be added ({entry['note']}); the next run tries again")
        else:
            lines.append("  (added; no sentence of it reads as a summary)")
        for bearing in entry["bearings"]:
            said = _cite(entry, bearing["quote"]) if bearing["addresses"] else "does not address it"
            lines.append(f"  Q: {bearing['question']} \u2192 {said}")
    return "\n".join(lines)
