"""The FastAPI application: conversations, an OpenAI-compatible endpoint, the library, operations, and
the web page, all over the same runtime the CLI uses. Every request first passes the guard (api/guard.py):
request id, key and role, rate limits, body cap, security headers, metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import anyio
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_sdk.signature import SignatureVerifier
from starlette.requests import ClientDisconnect

from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from api import (
    problems,
    routes_claims,
    routes_conversations,
    routes_library,
    routes_map,
    routes_openai,
    routes_pages,
    routes_tables,
    routes_watches,
)
from api.deps import Reader
from api.guard import Guard
from api.metrics import Metrics
from api.rate_limits import RateLimiter
from api.schemas import Health, Readiness
from api.slack_watch import slack_delivery
from api.streaming import TurnWorkers
from service import build_services
from service.watches import WatchService
from store.keys import KeyStore
from store.slack import SlackRecords

log = logging.getLogger("scisynth.api")
STATIC = Path(__file__).with_name("static")


def slack_signature_valid(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's v0 signature and 5-minute window, checked before any parsing (slack_sdk's verifier)."""
    timestamp, signature = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
    if not timestamp.isascii() or not timestamp.isdigit() or not signature:
        return False
    try:
        return SignatureVerifier(secret).is_valid(body, timestamp, signature)
    except UnicodeDecodeError:  # Slack sends UTF-8; anything else was not signed by it
        return False


def watch_scheduler(watches: WatchService, every_seconds: float, max_pending_jobs: int
                    ) -> BackgroundScheduler | None:
    """Look for due watches every `every_seconds` (0: never) and queue their runs (WatchService.queue_due)."""
    if every_seconds <= 0:
        return None
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(watches.queue_due, "interval", args=(max_pending_jobs,), seconds=every_seconds,
                      coalesce=True, max_instances=1, next_run_time=datetime.now(UTC))
    scheduler.start()
    return scheduler


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """The app; pass a ready `runtime` (tests) or let the lifespan build one from `settings`."""
    settings = runtime.settings if runtime else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = runtime or build_runtime(settings)
        # The embedding model loads on first use, so CLI commands that never embed skip it; a server loads it
        # now, so the first researcher's question does not wait for it.
        built.embedder.embed_query("warm-up")
        metrics: Metrics = app.state.metrics
        services = build_services(built, observer=metrics, on_job_result=metrics.observe_job_result,
                                  deliver=slack_delivery(settings))
        app.state.services, app.state.keys = services, KeyStore(built.engine, settings.service.keys)
        metrics.watch_jobs(services.jobs)
        services.jobs.start()
        scheduler = watch_scheduler(services.watches, settings.jobs.watch_check_seconds, settings.jobs.max_pending_jobs)
        app.state.slack = None
        if settings.slack.slack_signing_secret and settings.slack.slack_bot_token:
            from slack_bolt.adapter.fastapi import SlackRequestHandler

            from api.slack import SlackBot

            slack = settings.slack
            bot = SlackBot(services, slack.slack_bot_token, slack.slack_signing_secret, slack.slack_api_url)
            app.state.slack = SlackRequestHandler(bot.app)
        yield
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        services.jobs.shutdown()
        still_running = app.state.workers.wait(timeout=settings.service.shutdown_grace_seconds)
        if still_running:
            log.warning("%d turns still running at shutdown; their questions are stored, their answers are not",
                        still_running)
        if runtime is None:  # built here: close it here (a runtime passed in belongs to the caller)
            built.close()

    app = FastAPI(title="SciSynth", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Research assistant: answers with page-level citations from your paper library.")
    app.state.metrics, app.state.keys, app.state.draining = Metrics(), None, False
    app.state.workers = TurnWorkers(settings.service.max_streaming_turns)
    problems.install(app)
    limits = settings.storage.limits_storage
    app.add_middleware(Guard, settings=settings, metrics=app.state.metrics, keys=lambda: app.state.keys,
                       limiter=RateLimiter(settings.service.rate_limit_per_minute, limits, "requests"),
                       auth_failures=RateLimiter(settings.service.auth_failures_per_minute, limits, "auth-failures"))
    if settings.service.cors_origins:  # outside the guard, so a preflight needs no key
        app.add_middleware(CORSMiddleware, allow_origins=settings.service.cors_origin_list, allow_methods=["*"],
                           allow_headers=["*"])

    readiness_threads = anyio.CapacityLimiter(2)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", tags=["operations"], response_model=Readiness,
             responses={503: {"model": Readiness, "description": "not ready: the checks say which part"}})
    async def readyz(request: Request) -> Response:
        """Ready when the database answers, the vector index holds exactly the catalog's chunks, and the
        configured model answers (llama.cpp: loaded; a hosted model: its /models answered within a minute);
        never while draining after SIGTERM (api/server.py). Public (load balancers send no key), so it says only
        what is ready, not what the library holds. The checks run on threads of their own: a replica whose
        request threads are all busy is loaded, not broken, and must not fail the proxy's health check for it
        (with one replica out, that would take the other out too)."""
        if app.state.draining:  # no thread needed to say so
            return problems.JSONResponse({"status": "not ready", "checks": {"serving": False},
                                          "hint": "stopping: this replica finishes what it has and takes no new "
                                                  "work"}, status_code=503)
        runtime = request.app.state.services.runtime  # not a dependency: those wait for the busy request threads
        body, ready = await anyio.to_thread.run_sync(_readiness, runtime, limiter=readiness_threads)
        return problems.JSONResponse(body, status_code=200 if ready else 503)

    def _readiness(runtime: Runtime) -> tuple[dict, bool]:
        try:
            chunks = runtime.catalog.chunk_count()
        except Exception as error:  # the database is unreachable or broken
            log.warning("readiness: database check failed: %s", error)
            chunks = None
        model_ok, model_detail = runtime.model.ready() if runtime.model is not None else (True, "extractive")
        checks = {"database": chunks is not None, "index": chunks is not None and runtime.store.count == chunks,
                  "model": model_ok, "serving": True}
        ready = all(checks.values())
        body: dict = {"status": "ready" if ready else "not ready", "checks": checks}
        if not checks["index"] and chunks is not None:
            body["hint"] = "the vector index is out of step with the catalog: run 'scisynth reindex'"
        if not model_ok:
            log.warning("readiness: %s", model_detail)
            body["hint"] = "the language model does not answer (see the server log); turns fall back to extractive"
        return body, ready

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse, responses={
        **problems.COMMON, 200: {"description": "Prometheus text format", "content": {CONTENT_TYPE_LATEST: {}}}})
    def metrics(_caller: Reader) -> Response:
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/slack/events", tags=["slack"], responses=problems.responses(400, 401, 404, 413, 502))
    async def slack_events(request: Request) -> Response:
        """Slack's Events API and slash commands; Bolt checks the signature (401 when it is wrong)."""
        if app.state.slack is None:
            return problems.problem(404, "Slack is not configured: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN")
        try:
            body = await request.body()
        except ClientDisconnect:
            return problems.problem(400, "the request body ended before its declared length")
        if not slack_signature_valid(settings.slack.slack_signing_secret, body, request.headers):
            return problems.problem(401, "the Slack signature or timestamp is missing, wrong or stale")
        if not SlackRecords(app.state.services.runtime.engine).first_delivery(request.headers["x-slack-signature"]):
            return Response(status_code=200)  # a replay: acknowledged, not run again
        try:
            response = await app.state.slack.handle(request)
        except Exception:  # signed, but not an event or command Bolt can read (malformed, deeply nested)
            log.warning("a signed Slack request could not be read", exc_info=True)
            return problems.problem(400, "the body is not a Slack event (JSON) or command (form)")
        if response.status_code >= 500:  # Bolt could not reach Slack's Web API (its error is in the log)
            return problems.problem(502, "Slack's Web API did not answer; Slack will retry the event")
        if response.status_code >= 400:
            return problems.problem(response.status_code, "this Slack request is not one SciSynth handles")
        return response

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def web_page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    if settings.service.api_docs:
        @app.get("/docs", include_in_schema=False)
        def docs() -> FileResponse:
            return FileResponse(STATIC / "docs.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(routes_conversations.router)
    app.include_router(routes_openai.router)
    app.include_router(routes_pages.router)  # before the library's GET /v1/papers/{paper_id:path}
    app.include_router(routes_library.router)
    app.include_router(routes_map.router)
    app.include_router(routes_watches.router)
    app.include_router(routes_claims.router)
    app.include_router(routes_tables.router)
    return app
