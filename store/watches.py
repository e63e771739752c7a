"""Literature watches stored: the watches (an arXiv query and standing questions, per key), the papers each has
reported, and their digests.

A paper is never reported twice: the papers a digest reports are marked seen in the same transaction that stores
the digest, so a run cut short by a crash reports them on its re-run. With several service replicas, exactly one
claims a due watch: claiming it moves its next run forward with a conditional UPDATE, which one replica wins.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Field, Session, SQLModel, col, select

from store.schema import ensure_schema

RETRY_AFTER_FAILURE = timedelta(hours=1)
MAX_WATCHES_PER_OWNER = 20


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


class WatchStore:
    _adding = threading.Lock()  # one add at a time in a process (every store of it): the cap check is exact

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
        with self._adding:
            with Session(self.engine, expire_on_commit=False) as session:
                session.add(row)
                session.commit()
            # Counted after the insert, not before: a replica adding at the same time either sees this watch or
            # is seen by it, so whichever commits last counts both and takes its own back; no race leaves an
            # owner over the cap (in one process the lock makes it exact).
            if len(self.saved(owner)) > MAX_WATCHES_PER_OWNER:
                self.remove(row.id)
                raise WatchError(f"at most {MAX_WATCHES_PER_OWNER} watches per key; remove one first")
        return row

    def get(self, watch_id: str) -> WatchRow | None:
        with Session(self.engine) as session:
            return session.get(WatchRow, watch_id)

    def saved(self, owner: str | None = None) -> list[WatchRow]:
        """The watches in the order they were saved: one key's, or all (owner None: an admin, the CLI)."""
        query = select(WatchRow).order_by(col(WatchRow.created_at), col(WatchRow.id))
        if owner is not None:
            query = query.where(col(WatchRow.owner) == owner)
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
            for seen in session.exec(select(WatchSeenRow).where(col(WatchSeenRow.watch_id) == watch_id)):
                session.delete(seen)
            session.delete(row)
            session.commit()
        return True

    def seen(self, watch_id: str) -> set[str]:
        with Session(self.engine) as session:
            return set(session.exec(select(col(WatchSeenRow.arxiv_id)).where(col(WatchSeenRow.watch_id) == watch_id)))

    def claim_due(self, now: datetime | None = None) -> list[str]:
        """Ids of the due watches this caller won: each is moved to its next run by a conditional UPDATE, so
        of several replicas claiming at once exactly one gets it."""
        now = now or _now()
        with Session(self.engine) as session:
            due = list(session.exec(select(WatchRow).where(col(WatchRow.next_run_at) <= now)))
        won = []
        with self.engine.begin() as connection:
            for row in due:
                claimed = connection.execute(
                    update(WatchRow).where(col(WatchRow.id) == row.id, col(WatchRow.next_run_at) == row.next_run_at)
                    .values(next_run_at=now + timedelta(hours=row.every_hours)))
                if claimed.rowcount == 1:
                    won.append(row.id)
        return won

    def finish(self, watch: WatchRow, status: str, digest: DigestRow | None, seen: list[str],
               retry_soon: bool = False) -> bool:
        """Record a run in one transaction: its digest, the papers it reported (seen from now on), the watch's
        last run and its next (a run now postpones the scheduled one). `retry_soon`: run again within the hour.
        False when the watch was removed while it ran (nothing is stored). A watch runs only as a job (subject
        "watch:ID"), so the job's lease is what keeps two runs of one watch apart."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(WatchRow, watch.id)
            if row is None:
                return False
            now = _now()
            row.last_run_at, row.last_status = now, status
            row.next_run_at = now + min(timedelta(hours=row.every_hours),
                                        RETRY_AFTER_FAILURE if retry_soon else timedelta.max)
            session.add(row)
            for arxiv_id in seen:
                session.merge(WatchSeenRow(watch_id=watch.id, arxiv_id=arxiv_id))
            if digest is not None:
                session.add(digest)
            session.commit()
        return True

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
            query = query.where(col(DigestRow.watch_id) == watch_id)
        if owner is not None:
            query = query.where(col(DigestRow.owner) == owner)
        with Session(self.engine) as session:
            return list(session.exec(query))


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
