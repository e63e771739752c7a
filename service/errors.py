"""What a use case refuses, for every interface to say in its own way (HTTP status, CLI exit code)."""

from __future__ import annotations


class UnknownPaperError(KeyError):
    """No such paper in the library."""


class NotYoursError(PermissionError):
    """A key may change only what it added or saved (admins anything)."""


class NoRoomError(Exception):
    """A job cannot be accepted now; `retry_after` seconds is a fair wait (None: freeing room is the key's to do)."""

    retry_after: int | None = None


class TooManyJobsError(NoRoomError):
    """The key already has its share of jobs waiting."""

    retry_after = 30


class QueueFullError(NoRoomError):
    """All keys together have as many jobs waiting as the server takes."""

    retry_after = 60


class QuotaExceededError(NoRoomError):
    """An upload would pass the key's storage quota."""


class NoPagesError(LookupError):
    """The paper has no page to show: it was read from XML or JSONL, its PDF is gone, or the page is not in it."""
