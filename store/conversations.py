"""Conversations and their messages in SQL, so nothing a researcher asked or was told is lost.

Each API key has its own namespace of conversation ids: the stored id is `owner/id` (just `id` when the API
is open or for the CLI), so two keys may both name a conversation "lab-1", and neither can read, probe,
take or inherit the other's. The messages are the conversation's only record: each turn reads its history here.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from store.schema import ensure_schema

CONVERSATION_ID = r"^[A-Za-z0-9._-]{1,64}$"  # the ids a key may give its conversations


def _now() -> datetime:
    return datetime.now(UTC)


class ConversationRow(SQLModel, table=True):
    __tablename__ = "conversations"

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)
    title: str = ""
    owner: str | None = Field(default=None, index=True)  # the API key that created it ("" or None: open API)
    created_at: datetime = Field(default_factory=_now)

    @property
    def public_id(self) -> str:
        return self.id.split("/", 1)[1] if self.owner and "/" in self.id else self.id

    def public(self) -> dict:
        return {"id": self.public_id, "title": self.title, "created_at": self.created_at.isoformat()}


class UnknownConversationError(KeyError):
    """No such conversation (it may have been deleted while a turn ran)."""


def conversation_key(public_id: str, owner: str | None) -> str:
    """The stored id of a key's conversation `public_id`."""
    return f"{owner}/{public_id}" if owner else public_id


class MessageRow(SQLModel, table=True):
    __tablename__ = "messages"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversations.id", index=True)
    role: str  # "user", "assistant" or "error"
    content: str
    payload_json: str = "{}"  # citations, hypotheses and trace of an assistant message
    created_at: datetime = Field(default_factory=_now)

    @property
    def payload(self) -> dict:
        return json.loads(self.payload_json)

    def public(self) -> dict:
        return {"id": self.id, "role": self.role, "content": self.content,
                "created_at": self.created_at.isoformat(), **self.payload}


class ConversationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_schema(engine)

    def create(self, title: str = "", conversation_id: str | None = None, owner: str | None = None
               ) -> ConversationRow:
        """A new conversation; `conversation_id` is the id its owner sees (random when not given)."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = ConversationRow(id=conversation_key(conversation_id or uuid.uuid4().hex, owner), title=title[:200],
                                  owner=owner or None)
            session.add(row)
            session.commit()
            return row

    def ensure(self, conversation_id: str, title: str = "", owner: str | None = None) -> ConversationRow:
        """The owner's conversation with this id, created when it does not exist yet: a client may name a
        conversation on its first message. Two first messages at once create it once."""
        existing = self.get(conversation_key(conversation_id, owner))
        if existing is not None:
            return existing
        try:
            return self.create(title, conversation_id=conversation_id, owner=owner)
        except IntegrityError:  # the other first message made it
            made = self.get(conversation_key(conversation_id, owner))
            if made is None:  # and it was deleted at once
                raise UnknownConversationError(conversation_key(conversation_id, owner)) from None
            return made

    def get(self, key: str) -> ConversationRow | None:
        """A conversation by its stored id (see conversation_key)."""
        with Session(self.engine) as session:
            return session.get(ConversationRow, key)

    def owned(self, conversation_id: str, owner: str | None) -> ConversationRow | None:
        """The owner's conversation with this public id, or None."""
        return self.get(conversation_key(conversation_id, owner))

    def add_message(self, key: str, role: str, content: str, payload: dict | None = None) -> MessageRow:
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                row = MessageRow(conversation_id=key, role=role, content=content,
                                 payload_json=json.dumps(payload or {}))
                session.add(row)
                session.commit()
                return row
        except IntegrityError as error:  # deleted meanwhile (foreign key)
            raise UnknownConversationError(key) from error

    def recent(self, owner: str | None, offset: int = 0, limit: int = 20) -> list[ConversationRow]:
        query = select(ConversationRow).order_by(col(ConversationRow.created_at).desc()).offset(offset).limit(limit)
        if owner:
            query = query.where(col(ConversationRow.owner) == owner)
        with Session(self.engine) as session:
            return list(session.exec(query))

    def delete(self, key: str, attempts: int = 3) -> None:
        """Remove a conversation and its messages; a message stored at the same moment is removed too."""
        for attempt in range(attempts):
            try:
                with Session(self.engine) as session:
                    session.exec(delete(MessageRow).where(col(MessageRow.conversation_id) == key))
                    session.exec(delete(ConversationRow).where(col(ConversationRow.id) == key))
                    session.commit()
                return
            except IntegrityError:  # a message arrived between the two deletes: go again
                if attempt == attempts - 1:
                    raise

    def messages(self, key: str) -> list[MessageRow]:
        with Session(self.engine) as session:
            query = select(MessageRow).where(col(MessageRow.conversation_id) == key).order_by(col(MessageRow.id))
            return list(session.exec(query))
