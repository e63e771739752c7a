"""One way to ask a chat model for JSON of a given shape, and one error for every way that can fail.

Planning, reflecting, drafting hypotheses and judging all go through `ask_json`. Whatever goes wrong (the
server is unreachable, times out, refuses the key, answers 5xx after its retries, or replies with text
that is not JSON of the right shape) comes back as `ModelStepError`, whose message says what happened,
so the calling step can fall back to its rules and the trace can say why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ValidationError

from agent.llm.messages import parse_json

log = logging.getLogger(__name__)
Shape = TypeVar("Shape", bound=BaseModel)


_DEADLINE: ContextVar[float | None] = ContextVar("scisynth_model_deadline", default=None)


class ModelStepError(Exception):
    """A model step produced nothing usable; the message says why (for the trace and the log)."""


@contextmanager
def model_deadline(seconds: float) -> Iterator[None]:
    """Every model call made inside (in this thread or the graph's) ends by then: a turn's time budget is a
    deadline, not a wish."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def call_options() -> dict:
    """Keyword arguments for one model call: its time limit when a deadline is set. Raises ModelStepError
    when no time is left."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return {}
    left = deadline - time.monotonic()
    if left <= 1:
        raise ModelStepError("the turn's time budget ran out")
    return {"timeout_seconds": left}


def describe(error: BaseException) -> str:
    """A short account of a model failure for the trace and the client: its kind and, for HTTP errors, the
    status, never the server's own message (which may name projects, hosts or keys; the log has it)."""
    status = getattr(error, "status_code", None)
    return f"{error.__class__.__name__} (HTTP {status})" if status else error.__class__.__name__


def ask_json(model: BaseChatModel, messages: list[BaseMessage], shape: type[Shape]) -> Shape:
    """The model's reply parsed into `shape`; raises ModelStepError on any failure."""
    try:
        reply = model.invoke(messages, response_format={"type": "json_object", "schema": shape.model_json_schema()},
                             **call_options())
    except ModelStepError:
        raise
    except Exception as error:  # transport, HTTP status, timeout, cancelled: all mean "no reply"
        log.warning("model call for %s failed: %s: %s", shape.__name__, describe(error), error)
        raise ModelStepError(f"the model did not answer ({describe(error)})") from error
    try:
        return shape.model_validate(parse_json(reply.text))
    except (ValueError, ValidationError) as error:
        log.info("model reply unusable for %s: %s", shape.__name__, describe(error))
        raise ModelStepError(f"the model's reply was not valid {shape.__name__} JSON") from error
