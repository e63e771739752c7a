"""API keys and what they may do.

Keys come from SCISYNTH_API_KEYS (`key` or `key:role`, comma-separated) or from `scisynth keys create`
(stored hashed). Each key carries a role: `reader` (search, read, converse), `member` (also add papers
and delete their own), `admin` (everything, including other members' papers). With no key configured
the API is open, as on a laptop on loopback, and every caller is an admin.

Rate limits use the `limits` library (a moving window per key, and per client address for failed
authentication), in memory by default and in Redis (SCISYNTH_REDIS_URL) when several replicas share them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from fastapi import HTTPException
from limits import RateLimitItemPerMinute, storage, strategies
from limits.errors import ConfigurationError, StorageError
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, select

from agent.outage import SOCKET_TIMEOUT_SECONDS, Outage
from retrieval.schema import ensure_schema

Role = Literal["reader", "member", "admin"]
ROLES: tuple[Role, ...] = ("reader", "member", "admin")
log = logging.getLogger(__name__)
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

    def require(self, role: Role) -> None:
        if not self.can(role):
            raise HTTPException(403, f"this API key has the role '{self.role}'; this needs '{role}' or higher")


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


class RateLimiter:
    """A moving window of `per_minute` hits per key. `storage_uri` is any `limits` storage (`memory://`, or
    `redis://host:6379/0` so that every API replica counts in one window); `namespace` keeps two limiters'
    keys apart in a shared store. When the shared store fails (short timeouts: a request never waits long on
    it), this process counts alone in memory for a while before trying it again (agent/outage.py): limits stay on,
    per replica, and a rate limit is not worth an outage."""

    TIMEOUT_SECONDS = SOCKET_TIMEOUT_SECONDS

    def __init__(self, per_minute: int, storage_uri: str = "memory://", namespace: str = "requests") -> None:
        self.item = RateLimitItemPerMinute(per_minute, namespace=f"scisynth-{namespace}")
        options = ({"socket_timeout": self.TIMEOUT_SECONDS, "socket_connect_timeout": self.TIMEOUT_SECONDS}
                   if storage_uri.startswith(("redis://", "rediss://")) else {})
        try:
            shared = storage.storage_from_string(storage_uri, wrap_exceptions=True, **options)
        except ConfigurationError as error:
            raise ValueError(f"rate-limit storage {storage_uri!r}: {error} (a Redis URL needs the 'scale' "
                             "extra: pip install -e '.[scale]')") from error
        self._shared = strategies.MovingWindowRateLimiter(shared)
        self._local = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._outage = Outage("rate-limit storage", "counting in this process", log)

    def _call(self, method: str, *args: object) -> object:
        """`method` of the shared limiter, or of the local one while the shared store is failing."""
        if not self._outage.ongoing:
            try:
                return getattr(self._shared, method)(*args)
            except StorageError as error:
                self._outage.begin(error.storage_error)
        return getattr(self._local, method)(*args)

    def allow(self, key: str) -> bool:
        """Count a hit; False when the window is already full."""
        return bool(self._call("hit", self.item, key))

    def blocked(self, key: str) -> bool:
        """True when the window is full, without counting a hit."""
        return not self._call("test", self.item, key)

    def retry_after(self, key: str) -> int:
        """Seconds until the window has room again."""
        reset, _remaining = self._call("get_window_stats", self.item, key)  # type: ignore[misc]
        return max(1, int(reset - datetime.now(UTC).timestamp()) + 1)
