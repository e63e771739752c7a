"""One way to ask a chat model for JSON of a given shape, and one error for every way that can fail.

Planning, reflecting, drafting hypotheses and judging all go through `ask_json`. Whatever goes wrong (the
server is unreachable, times out, refuses the key, answers 5xx after its retries, or replies with text
that is not JSON of the right shape) comes back as `ModelStepError`, whose message says what happened,
so the calling step can fall back to its rules and the trace can say why.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ValidationError

from agent.llm.messages import parse_json

log = logging.getLogger(__name__)
Shape = TypeVar("Shape", bound=BaseModel)


class ModelStepError(Exception):
    """A model step produced nothing usable; the message says why (for the trace and the log)."""


def describe(error: BaseException) -> str:
    """A short, secret-free account of a model failure: its kind and first line."""
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__


def ask_json(model: BaseChatModel, messages: list[BaseMessage], shape: type[Shape]) -> Shape:
    """The model's reply parsed into `shape`; raises ModelStepError on any failure."""
    try:
        reply = model.invoke(messages, response_format={"type": "json_object", "schema": shape.model_json_schema()})
    except Exception as error:  # transport, HTTP status, timeout, cancelled: all mean "no reply"
        log.warning("model call for %s failed: %s", shape.__name__, describe(error))
        raise ModelStepError(f"the model did not answer ({describe(error)})") from error
    try:
        return shape.model_validate(parse_json(reply.text))
    except (ValueError, ValidationError) as error:
        log.info("model reply unusable for %s: %s", shape.__name__, describe(error))
        raise ModelStepError(f"the model's reply was not valid {shape.__name__} JSON") from error
