"""Errors as RFC 9457 `application/problem+json`, never with a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)
TITLES = {400: "Bad request", 401: "Unauthorized", 404: "Not found", 413: "Payload too large",
          415: "Unsupported media type", 422: "Invalid request", 429: "Too many requests",
          500: "Internal server error", 503: "Service unavailable"}


def problem(status: int, detail: str, headers: dict | None = None, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_problem(_request: Request, error: HTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail), dict(error.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def validation_problem(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"where": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in error.errors()]
        summary = "; ".join(f"{e['where']}: {e['message']}" for e in errors)
        return problem(422, f"the request body is not valid: {summary}", errors=errors)

    @app.exception_handler(Exception)
    async def unexpected_problem(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "something went wrong on our side; the details are in the server log",
                       request_id=getattr(request.state, "request_id", None))
