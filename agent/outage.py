"""What a replica does when a store it shares with the others (Redis) fails: it goes on without it for a while,
says so once in the log, then tries again. Short socket timeouts keep a request from waiting long on a store that
hangs; the pause keeps every request from paying even that."""

from __future__ import annotations

import logging
import time

SOCKET_TIMEOUT_SECONDS = 0.25  # connect and read timeouts for a shared store: a request never waits long on it


class Outage:
    """The shared store `what` failed: `ongoing` stays true for `seconds`, while callers do `meanwhile` instead;
    `log` is the caller's logger, so the line names where the store is used."""

    def __init__(self, what: str, meanwhile: str, log: logging.Logger, seconds: float = 30.0) -> None:
        self.what, self.meanwhile, self.log, self.seconds = what, meanwhile, log, seconds
        self._until = 0.0

    @property
    def ongoing(self) -> bool:
        return time.monotonic() < self._until

    def begin(self, error: object) -> None:
        self._until = time.monotonic() + self.seconds
        self.log.error("%s failed (%s): %s for %.0f s", self.what, error, self.meanwhile, self.seconds)
