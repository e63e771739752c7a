"""API keys: from SCISYNTH_API_KEYS or created with `scisynth keys create` (stored hashed), and a per-key
rate limit. With no keys configured the API is open (a laptop on loopback)."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import UTC, datetime

from fastapi import HTTPException, Request
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, select


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"

    hash: str = Field(primary_key=True)
    name: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class KeyStore:
    def __init__(self, engine: Engine, configured: list[str]) -> None:
        self.engine = engine
        self.configured = {key_hash(k) for k in configured}
        SQLModel.metadata.create_all(engine, tables=[ApiKeyRow.__table__])

    def create(self, name: str = "") -> str:
        """A new random key; only its hash is kept, so show it to the user once."""
        key = "sk-scisynth-" + secrets.token_urlsafe(24)
        with Session(self.engine) as session:
            session.add(ApiKeyRow(hash=key_hash(key), name=name))
            session.commit()
        return key

    def enabled(self) -> bool:
        if self.configured:
            return True
        with Session(self.engine) as session:
            return session.exec(select(ApiKeyRow).limit(1)).first() is not None

    def owner_of(self, key: str) -> str | None:
        """The key's owner id (a hash prefix), or None when the key is unknown."""
        digest = key_hash(key)
        if digest in self.configured:
            return digest[:16]
        with Session(self.engine) as session:
            return digest[:16] if session.get(ApiKeyRow, digest) else None


class RateLimiter:
    """A token bucket per key: `per_minute` requests, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, owner: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(owner, (float(self.per_minute), now))
            tokens = min(self.per_minute, tokens + (now - last) * self.per_minute / 60)
            if tokens < 1:
                self._buckets[owner] = (tokens, now)
                return False
            self._buckets[owner] = (tokens - 1, now)
            return True


def authenticate(request: Request) -> str:
    """The caller's owner id; "" when the API is open. 401 for a missing or unknown key, 429 past the limit."""
    keys: KeyStore = request.app.state.keys
    if not keys.enabled():
        return ""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    owner = keys.owner_of(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if owner is None:
        raise HTTPException(401, "missing or invalid API key: send 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if not request.app.state.limiter.allow(owner):
        raise HTTPException(429, "rate limit exceeded for this API key; slow down", headers={"Retry-After": "5"})
    return owner
