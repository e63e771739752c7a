"""The FastAPI application: conversations, an OpenAI-compatible endpoint, the library, operations, and
the web page, all over the same runtime the CLI uses."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from api import problems, routes_conversations, routes_library, routes_openai
from api.auth import KeyStore, RateLimiter
from api.deps import RuntimeDep
from api.metrics import Metrics
from api.routes_library import Jobs
from api.streaming import TurnWorkers

log = logging.getLogger("scisynth.api")


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """The app; pass a ready `runtime` (tests) or let the lifespan build one from `settings`."""
    settings = runtime.settings if runtime else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime or build_runtime(settings)
        app.state.keys = KeyStore(app.state.runtime.engine, settings.keys)
        app.state.slack = None
        if settings.slack_signing_secret and settings.slack_bot_token:
            from slack_bolt.adapter.fastapi import SlackRequestHandler

            from api.slack import SlackBot

            bot = SlackBot(app.state.runtime, settings.slack_bot_token, settings.slack_signing_secret,
                           settings.slack_api_url)
            app.state.slack = SlackRequestHandler(bot.app)
        yield
        still_running = app.state.workers.wait(timeout=settings.shutdown_grace_seconds)
        if still_running:
            log.warning("%d turns still running at shutdown; their checkpoints let them be retried", still_running)

    app = FastAPI(title="SciSynth", version="0.1.0", lifespan=lifespan,
                  description="Research assistant: answers with page-level citations from your paper library.")
    app.state.metrics, app.state.workers, app.state.jobs = Metrics(), TurnWorkers(), Jobs()
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
    problems.install(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin_list, allow_methods=["*"],
                           allow_headers=["*"])

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        limit = settings.max_upload_bytes if request.url.path == "/v1/papers" else settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return problems.problem(413, f"the request body is {int(declared):,} bytes; the limit here is {limit:,}")
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        app.state.metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        app.state.metrics.latency.labels(route).observe(time.perf_counter() - started)
        response.headers["X-Request-ID"] = request.state.request_id
        log.info("%s %s %s %.3fs request_id=%s", request.method, request.url.path, response.status_code,
                 time.perf_counter() - started, request.state.request_id)
        return response

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz(runtime: RuntimeDep) -> Response:
        """Ready when the database answers and the vector index holds exactly the catalog's chunks."""
        try:
            papers, chunks = runtime.catalog.paper_count(), runtime.catalog.chunk_count()
        except Exception as error:  # the database is unreachable or broken
            log.warning("readiness: database check failed: %s", error)
            papers = chunks = None
        checks = {"database": chunks is not None, "index": chunks is not None and runtime.store.count == chunks,
                  "model": runtime.composer is not None}
        ready = all(checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks, "papers": papers,
                "provider": runtime.composer.name}
        if not checks["index"] and chunks is not None:
            body["hint"] = f"the index holds {runtime.store.count} vectors for {chunks} chunks: run 'scisynth reindex'"
        return problems.JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"])
    def metrics() -> Response:
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/slack/events", tags=["slack"])
    async def slack_events(request: Request) -> Response:
        """Slack's Events API and slash commands; Bolt checks the signature (401 when it is wrong)."""
        if app.state.slack is None:
            return problems.problem(404, "Slack is not configured: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN")
        return await app.state.slack.handle(request)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def web_page() -> str:
        return files("api").joinpath("static/index.html").read_text(encoding="utf-8")

    app.include_router(routes_conversations.router)
    app.include_router(routes_openai.router)
    app.include_router(routes_library.router)
    return app
