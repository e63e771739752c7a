"""What a Zotero sync remembers per library (and collection): the library version it reached, and which paper
each item became (so the next sync asks only for what changed, and a deletion in Zotero finds its paper)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from store.schema import ensure_schema

MAX_RETRIES = 3  # syncs that try again to complete an item kept as a reference (a download failed, arXiv was down)


class ZoteroStateRow(SQLModel, table=True):
    __tablename__ = "zotero_sync"

    source: str = Field(primary_key=True)  # "user:123" or "user:123/collection/ABCD1234"
    version: int = 0
    synced_at: datetime | None = None


class ZoteroItemRow(SQLModel, table=True):
    __tablename__ = "zotero_items"

    source: str = Field(primary_key=True)
    item_key: str = Field(primary_key=True)
    paper_id: str
    added: bool  # this sync added the paper (only then does a deletion in Zotero remove it)
    # Kept as a reference although it has a PDF or an arXiv id (a download failed, arXiv was down): the next
    # syncs try again, even when Zotero has nothing new, at most MAX_RETRIES times.
    incomplete: bool = False
    retries: int = 0
    attachments_json: str = "[]"  # the item's PDF attachment keys


class ZoteroRecords:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_schema(engine)

    def state(self, source: str) -> ZoteroStateRow:
        with Session(self.engine) as session:
            return session.get(ZoteroStateRow, source) or ZoteroStateRow(source=source)

    def item(self, source: str, key: str) -> ZoteroItemRow | None:
        with Session(self.engine) as session:
            return session.get(ZoteroItemRow, (source, key))

    def incomplete(self, source: str) -> list[ZoteroItemRow]:
        """Items kept as references although they have a PDF or an arXiv id, still worth another try."""
        with Session(self.engine) as session:
            return list(session.exec(select(ZoteroItemRow).where(
                col(ZoteroItemRow.source) == source, col(ZoteroItemRow.incomplete),
                col(ZoteroItemRow.retries) < MAX_RETRIES)))

    def forget(self, source: str, keys: list[str]) -> None:
        with Session(self.engine) as session:
            for key in keys:
                row = session.get(ZoteroItemRow, (source, key))
                if row is not None:
                    session.delete(row)
            session.commit()

    def save(self, source: str, version: int, rows: list[ZoteroItemRow]) -> None:
        """The items synced and the version reached, in one transaction (a sync cut short is repeated whole)."""
        with Session(self.engine) as session:
            for row in rows:
                session.merge(row)
            session.merge(ZoteroStateRow(source=source, version=version, synced_at=datetime.now(UTC)))
            session.commit()
