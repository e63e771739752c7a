"""arXiv answers cached in the catalog database, so a repeated query inside the TTL makes no request
and an offline machine still answers from what it saw before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from store.schema import ensure_schema
from tools import cache_stats


class ArxivCacheRow(SQLModel, table=True):
    __tablename__ = "arxiv_cache"

    key: str = Field(primary_key=True)
    records_json: str
    fetched_at: datetime


class SqlArxivCache:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_schema(engine)

    def get(self, key: str, max_age_seconds: float | None) -> list[dict] | None:
        """The cached records, or None when absent or older than `max_age_seconds` (None: any age)."""
        with Session(self.engine) as session:
            row = session.get(ArxivCacheRow, key)
        if row is None:
            cache_stats.record("arxiv", "miss")
            return None
        fetched = row.fetched_at if row.fetched_at.tzinfo else row.fetched_at.replace(tzinfo=UTC)
        if max_age_seconds is not None and datetime.now(UTC) - fetched > timedelta(seconds=max_age_seconds):
            cache_stats.record("arxiv", "stale")
            return None
        cache_stats.record("arxiv", "hit")
        return json.loads(row.records_json)

    def put(self, key: str, records: list[dict]) -> None:
        row = ArxivCacheRow(key=key, records_json=json.dumps(records), fetched_at=datetime.now(UTC))
        try:
            self._merge(row)
        except IntegrityError:  # another thread stored the same query between merge's read and its insert
            self._merge(row)

    def _merge(self, row: ArxivCacheRow) -> None:
        with Session(self.engine) as session:
            session.merge(row)
            session.commit()
