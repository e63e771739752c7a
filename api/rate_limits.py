"""Rate limits per API key and per client address, with the `limits` library: a moving window per key, and per
client address for failed authentication, in memory by default and in Redis (SCISYNTH_REDIS_URL) when several
replicas share them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from limits import RateLimitItemPerMinute, storage, strategies
from limits.errors import ConfigurationError, StorageError

from agent.outage import SOCKET_TIMEOUT_SECONDS, Outage

log = logging.getLogger(__name__)


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
