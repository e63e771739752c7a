"""Errors as RFC 9457 `application/problem+json`, never with a stack trace, and documented in the OpenAPI
schema: `responses(...)` lists the problems a route can answer with, so clients (and schemathesis) know
every status code the API returns."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from api.streaming import TurnsBusyError
from service.errors import NoRoomError, NotYoursError, QueueFullError, QuotaExceededError, UnknownPaperError


class Problem(BaseModel):
    """An error: `detail` says what went wrong and what to do."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    request_id: str | None = None


def problem(status: int, detail: str, headers: dict | None = None, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI entries for the problems a route may answer with."""
    return {status: {"model": Problem, "description": HTTPStatus(status).phrase,
                     "content": {"application/problem+json": {}}} for status in statuses}


# Every route behind the guard can answer these: a body that cannot be decoded (not UTF-8), no or bad key, body
# cap, bad input, rate limit, our bug.
COMMON = responses(400, 401, 413, 422, 429, 500)


def install(app: FastAPI) -> None:
    @app.exception_handler(NoRoomError)
    async def no_room(_request: Request, error: NoRoomError) -> JSONResponse:
        status = 413 if isinstance(error, QuotaExceededError) else 503 if isinstance(error, QueueFullError) else 429
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
        return problem(status, str(error), headers)

    @app.exception_handler(UnknownPaperError)
    async def unknown_paper(_request: Request, error: UnknownPaperError) -> JSONResponse:
        return problem(404, f"no paper {error.args[0]} in the library")

    @app.exception_handler(NotYoursError)
    async def not_yours(_request: Request, error: NotYoursError) -> JSONResponse:
        return problem(403, str(error))

    @app.exception_handler(TurnsBusyError)
    async def turns_busy(_request: Request, error: TurnsBusyError) -> JSONResponse:
        return problem(503, str(error), {"Retry-After": "5"})

    @app.exception_handler(HTTPException)
    async def http_problem(_request: Request, error: HTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail), dict(error.headers or {}))

    @app.exception_handler(ValidationError)
    @app.exception_handler(RequestValidationError)
    async def validation_problem(_request: Request, error: RequestValidationError | ValidationError) -> JSONResponse:
        # A pydantic error raised inside a route (a value that passed the request schema but not a model built
        # from it, e.g. a lone surrogate) is the client's input too: 422, not 500.
        errors = [{"where": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in error.errors()]
        summary = "; ".join(f"{e['where']}: {e['message']}" for e in errors)
        return problem(422, f"the request is not valid: {summary}"[:2000], errors=errors[:20])
