"""What the Slack bot remembers: which SciSynth conversation a Slack thread is, and which events and signed
requests it has handled (Slack retries events; a signed request replayed within its window must not run twice)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from store.schema import ensure_schema

log = logging.getLogger(__name__)


class SlackThreadRow(SQLModel, table=True):
    __tablename__ = "slack_threads"

    thread_key: str = Field(primary_key=True)  # "channel:thread_ts"
    conversation_id: str


class SlackEventRow(SQLModel, table=True):
    """Event ids already handled: Slack retries and duplicates must not start a second run."""

    __tablename__ = "slack_events"

    event_id: str = Field(primary_key=True)
    seen_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class SlackRecords:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_schema(engine)

    def first_time(self, event_id: str) -> bool:
        """Whether this event (or signed request) is new; it is remembered from now on."""
        try:
            with Session(self.engine) as session:
                session.add(SlackEventRow(event_id=event_id[:200]))
                session.commit()
        except IntegrityError:
            return False
        return True

    def first_delivery(self, signature: str) -> bool:
        """Whether this signed request is new: a signature is remembered, so a signed request replayed within
        Slack's 5-minute window (a slash command has no event id to de-duplicate) runs once."""
        if self.first_time(f"signature:{signature[:100]}"):
            return True
        log.warning("a replayed Slack request was ignored (its signature was seen before)")
        return False

    def conversation_of(self, thread_key: str) -> str | None:
        with Session(self.engine) as session:
            row = session.get(SlackThreadRow, thread_key)
            return row.conversation_id if row is not None else None

    def remember_thread(self, thread_key: str, conversation_id: str) -> None:
        with Session(self.engine) as session:
            session.add(SlackThreadRow(thread_key=thread_key, conversation_id=conversation_id))
            session.commit()
