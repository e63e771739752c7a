"""Conversations and their messages in SQL, so nothing a researcher asked or was told is lost."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from retrieval.catalog import create_tables


def _now() -> datetime:
    return datetime.now(UTC)


class ConversationRow(SQLModel, table=True):
    __tablename__ = "conversations"

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)
    title: str = ""
    owner: str | None = Field(default=None, index=True)  # the API key that created it ("" or None: open API)
    created_at: datetime = Field(default_factory=_now)

    def public(self) -> dict:
        return {"id": self.id, "title": self.title, "created_at": self.created_at.isoformat()}


class MessageRow(SQLModel, table=True):
    __tablename__ = "messages"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversations.id", index=True)
    role: str  # "user", "assistant" or "error"
    content: str
    payload_json: str = "{}"  # citations, hypotheses and trace of an assistant message
    created_at: datetime = Field(default_factory=_now)

    def public(self) -> dict:
        return {"id": self.id, "role": self.role, "content": self.content,
                "created_at": self.created_at.isoformat(), **json.loads(self.payload_json)}


class ConversationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(engine, [ConversationRow.__table__, MessageRow.__table__])

    def create(self, title: str = "", conversation_id: str | None = None, owner: str | None = None
               ) -> ConversationRow:
        with Session(self.engine, expire_on_commit=False) as session:
            row = ConversationRow(title=title[:200], owner=owner or None,
                                  **({"id": conversation_id} if conversation_id else {}))
            session.add(row)
            session.commit()
            return row

    def ensure(self, conversation_id: str, title: str = "", owner: str | None = None) -> ConversationRow:
        """The conversation with this id, created (with `owner`) when it does not exist yet: a client may
        name a conversation on its first message. Two first messages at once create it once."""
        existing = self.get(conversation_id)
        if existing is not None:
            return existing
        try:
            return self.create(title, conversation_id=conversation_id, owner=owner)
        except IntegrityError:
            return self.get(conversation_id)

    def get(self, conversation_id: str) -> ConversationRow | None:
        with Session(self.engine) as session:
            return session.get(ConversationRow, conversation_id)

    def add_message(self, conversation_id: str, role: str, content: str, payload: dict | None = None) -> MessageRow:
        with Session(self.engine, expire_on_commit=False) as session:
            row = MessageRow(conversation_id=conversation_id, role=role, content=content,
                             payload_json=json.dumps(payload or {}))
            session.add(row)
            session.commit()
            return row

    def owned(self, conversation_id: str, owner: str | None) -> ConversationRow | None:
        """The conversation if it belongs to `owner` (any owner when the API is open)."""
        row = self.get(conversation_id)
        return row if row is not None and (not owner or row.owner == owner) else None

    def list(self, owner: str | None, offset: int = 0, limit: int = 20) -> list[ConversationRow]:
        query = select(ConversationRow).order_by(ConversationRow.created_at.desc()).offset(offset).limit(limit)
        if owner:
            query = query.where(ConversationRow.owner == owner)
        with Session(self.engine) as session:
            return list(session.exec(query))

    def delete(self, conversation_id: str) -> None:
        with Session(self.engine) as session:
            for message in session.exec(select(MessageRow).where(MessageRow.conversation_id == conversation_id)):
                session.delete(message)
            row = session.get(ConversationRow, conversation_id)
            if row is not None:
                session.delete(row)
            session.commit()

    def messages(self, conversation_id: str) -> list[MessageRow]:
        with Session(self.engine) as session:
            query = select(MessageRow).where(MessageRow.conversation_id == conversation_id).order_by(MessageRow.id)
            return list(session.exec(query))
