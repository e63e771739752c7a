"""API keys and their roles.

Keys come from SCISYNTH_API_KEYS (`key` or `key:role`, comma-separated) or from `scisynth keys create`
(stored hashed). Each key carries a role: `reader` (search, read, converse), `member` (also add papers
and delete their own), `admin` (everything, including other members' papers). With no key configured
the API is open, as on a laptop on loopback, and every caller is an admin.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, select

from store.schema import ensure_schema

Role = Literal["reader", "member", "admin"]
ROLES: tuple[Role, ...] = ("reader", "member", "admin")
DEFAULT_ROLE: Role = "member"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"

    hash: str = Field(primary_key=True)
    name: str = ""
    role: str | None = None  # None on keys made before roles existed: they count as members
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Caller:
    """Who sent a request: an owner id (a prefix of the key's hash; "" when the API is open) and a role."""

    owner: str
    role: Role

    def can(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


OPEN = Caller(owner="", role="admin")


def parse_configured(value: list[str]) -> dict[str, Role]:
    """`key` or `key:role` entries -> {hash: role}. An unknown role is a configuration error."""
    keys: dict[str, Role] = {}
    for entry in value:
        key, _, role = entry.partition(":")
        role = role.strip() or DEFAULT_ROLE
        if role not in ROLES:
            raise ValueError(f"SCISYNTH_API_KEYS: unknown role {role!r} (use {', '.join(ROLES)})")
        keys[key_hash(key.strip())] = role  # type: ignore[assignment]
    return keys


class KeyStore:
    def __init__(self, engine: Engine, configured: list[str]) -> None:
        self.engine = engine
        self.configured = parse_configured(configured)
        self._has_stored_keys, self._checked_at = False, float("-inf")
        ensure_schema(engine)

    def create(self, name: str = "", role: Role = DEFAULT_ROLE) -> str:
        """A new random key; only its hash is kept, so show it to the user once."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; use {', '.join(ROLES)}")
        key = "sk-scisynth-" + secrets.token_urlsafe(24)
        with Session(self.engine) as session:
            session.add(ApiKeyRow(hash=key_hash(key), name=name, role=role))
            session.commit()
        self._has_stored_keys = True
        return key

    def enabled(self) -> bool:
        """True once any key exists. Keys are never deleted, so a True answer is kept; while the service is
        open, the database is asked again at most once a second (a key made by `scisynth keys create` in
        another process takes effect within that second) rather than on every request."""
        if self.configured or self._has_stored_keys:
            return True
        now = time.monotonic()
        if now - self._checked_at >= 1.0:
            with Session(self.engine) as session:
                self._has_stored_keys = session.exec(select(ApiKeyRow).limit(1)).first() is not None
            self._checked_at = now
        return self._has_stored_keys

    def caller(self, key: str) -> Caller | None:
        """The key's caller, or None when the key is unknown."""
        digest = key_hash(key)
        if digest in self.configured:
            return Caller(digest[:16], self.configured[digest])
        with Session(self.engine) as session:
            row = session.get(ApiKeyRow, digest)
        if row is None:
            return None
        return Caller(digest[:16], row.role if row.role in ROLES else DEFAULT_ROLE)  # type: ignore[arg-type]
