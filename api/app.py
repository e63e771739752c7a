"""The FastAPI application: conversations, an OpenAI-compatible endpoint, the library, operations, and
the web page, all over the same runtime the CLI uses. Every request first passes the guard (api/guard.py):
request id, key and role, rate limits, body cap, security headers, metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_sdk.signature import SignatureVerifier
from starlette.requests import ClientDisconnect

from agent.importing import BibliographyImporter
from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from agent.watch import WatchRunner, WatchStore, watch_runner
from agent.zotero_sync import zotero_sync
from api import problems, routes_conversations, routes_library, routes_openai, routes_watches
from api.auth import KeyStore, RateLimiter
from api.deps import Reader, RuntimeDep
from api.guard import Guard
from api.jobs import JobQueue, JobRow, replica_name
from api.metrics import Metrics
from api.slack_watch import slack_delivery
from api.streaming import TurnWorkers
from retrieval.ingest import IngestResult
from tools.arxiv_client import ArxivError
from tools.bibliography import BibliographyError
from tools.zotero import ZoteroError, ZoteroLibrary

log = logging.getLogger("scisynth.api")
STATIC = Path(__file__).with_name("static")
WATCH_WAIT = timedelta(minutes=15)  # a due watch whose owner's job queue is full runs this much later


def slack_signature_valid(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's v0 signature and 5-minute window, checked before any parsing (slack_sdk's verifier)."""
    timestamp, signature = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
    if not timestamp.isascii() or not timestamp.isdigit() or not signature:
        return False
    try:
        return SignatureVerifier(secret).is_valid(body, timestamp, signature)
    except UnicodeDecodeError:  # Slack sends UTF-8; anything else was not signed by it
        return False


def job_queue(runtime: Runtime, metrics: Metrics, watches: WatchRunner) -> JobQueue:
    """Uploads, arXiv fetches, bibliography imports and watch runs, recorded as the key that asked for them."""
    def upload(job: JobRow) -> list[IngestResult]:
        """Ingest an uploaded file. It stays on disk only while a paper points to it (a duplicate, an unreadable
        file or a failure leaves nothing behind; a re-run after a crash keeps the file its paper uses)."""
        path, name = Path(job.payload["path"]), job.payload.get("filename", "upload.pdf")
        try:
            results = runtime.ingestor.ingest_paths([path], added_by=job.owner or None,
                                                    limits=runtime.settings.parse_limits)
        finally:
            if runtime.catalog.paper_at(path) is None:
                path.unlink(missing_ok=True)
        for result in results:  # the client sees its own file name, never the server's path
            result.path = name
            result.error = result.error and result.error.replace(str(path.resolve()), name).replace(str(path), name)
        return results

    def arxiv(job: JobRow) -> list[IngestResult]:
        try:
            return runtime.fetcher.fetch([job.payload["arxiv_id"]], added_by=job.owner or None)
        except ArxivError as error:  # arXiv down or refusing: the reason is the user's to read
            return [IngestResult(job.payload["arxiv_id"], "failed", error=str(error))]

    def import_bibliography(job: JobRow) -> list[IngestResult]:
        """Import an uploaded BibTeX/RIS file; entries that could not be read come back as "skipped" with
        their line. The file is removed afterwards (a re-run after a crash imports what is still missing)."""
        path, name = Path(job.payload["path"]), job.payload.get("filename", "import")
        importer = BibliographyImporter(runtime.catalog, runtime.ingestor,
                                        runtime.fetcher if runtime.settings.use_arxiv else None, read_local_files=False,
                                        limits=runtime.settings.parse_limits)
        try:
            report = importer.import_file(path, added_by=job.owner or None)
        except BibliographyError as error:
            return [IngestResult(name, "failed", error=str(error).replace(str(path), name))]
        finally:
            path.unlink(missing_ok=True)
        if not report.results:
            reasons = "; ".join(f"line {bad.line}: {bad.reason}" for bad in report.skipped[:5])
            return [IngestResult(name, "failed", error=f"no entry of {name} could be read ({reasons})")]
        for result in report.results:
            result.path = result.path.replace(str(path), name)
        return report.results + [IngestResult(f"{name}:{bad.line}", "skipped", error=bad.reason)
                                 for bad in report.skipped]

    def zotero(job: JobRow) -> list[IngestResult]:
        """Items skipped (no title) and papers removed (deleted in Zotero) are listed beside the ingests."""
        library = job.payload["library"]
        try:
            report = zotero_sync(runtime).sync(ZoteroLibrary.parse(library), job.payload.get("collection"),
                                               added_by=job.owner or None)
        except ZoteroError as error:
            return [IngestResult(library, "failed", error=str(error))]
        return (report.results + [IngestResult(f"zotero:{key}", "skipped", error=why) for key, why in report.skipped]
                + [IngestResult(library, "removed", paper_id) for paper_id in report.removed])

    def watch(job: JobRow) -> list[IngestResult]:
        """Run as the watch's owner (the scheduler queues it under that key): its PDFs count toward that key's
        storage quota, and past the quota the new papers come in from their abstracts."""
        if job.attempts > 1:  # taken over from a run cut short: free the watch it held, or this run would skip
            watches.store.release(job.payload["watch_id"])
        room = runtime.catalog.bytes_added_by(job.owner) < runtime.settings.upload_quota_mb * 1024 * 1024
        return watches.run(job.payload["watch_id"], pdfs_allowed=room).results

    return JobQueue(runtime.engine, {"upload": upload, "arxiv": arxiv, "import": import_bibliography, "watch": watch,
                                     "zotero": zotero},
                    on_result=lambda result: metrics.ingested.labels(result.status).inc(),
                    worker=replica_name(runtime.settings.home_dir), lease_seconds=runtime.settings.job_lease_seconds,
                    # an upload's file is on this replica's disk unless the replicas share one papers folder
                    local_kinds=frozenset() if runtime.settings.papers.strip() else frozenset({"upload", "import"}))


def queue_due_watches(store: WatchStore, jobs: JobQueue, max_pending_jobs: int) -> list[JobRow]:
    """Queue a run of each due watch this replica claims (the claim is atomic in the shared database, so with
    several replicas each due watch runs once), as the watch's owner and within that key's job limit: when its
    queue is full the run waits WATCH_WAIT."""
    queued = []
    for watch_id in store.claim_due():
        watch = store.get(watch_id)
        if watch is None:
            continue
        if jobs.unfinished(watch.owner) >= max_pending_jobs:
            log.info("watch %s waits: its owner has %d jobs waiting", watch_id, max_pending_jobs)
            store.postpone(watch_id, WATCH_WAIT)
            continue
        queued.append(jobs.submit("watch", {"watch_id": watch_id}, owner=watch.owner))
    return queued


def watch_scheduler(store: WatchStore, jobs: JobQueue, every_seconds: float, max_pending_jobs: int
                    ) -> BackgroundScheduler | None:
    """Look for due watches every `every_seconds` (0: never) and queue their runs (queue_due_watches)."""
    if every_seconds <= 0:
        return None
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(queue_due_watches, "interval", args=(store, jobs, max_pending_jobs), seconds=every_seconds,
                      coalesce=True, max_instances=1, next_run_time=datetime.now(UTC))
    scheduler.start()
    return scheduler


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """The app; pass a ready `runtime` (tests) or let the lifespan build one from `settings`."""
    settings = runtime.settings if runtime else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime or build_runtime(settings)
        # The embedding model loads on first use, so CLI commands that never embed skip it; a server loads it
        # now, so the first researcher's question does not wait for it.
        app.state.runtime.embedder.embed_query("warm-up")
        app.state.keys = KeyStore(app.state.runtime.engine, settings.keys)
        app.state.watches = watch_runner(app.state.runtime, slack_delivery(settings))
        app.state.jobs = job_queue(app.state.runtime, app.state.metrics, app.state.watches)
        app.state.jobs.start()
        scheduler = watch_scheduler(app.state.watches.store, app.state.jobs, settings.watch_check_seconds,
                                    settings.max_pending_jobs)
        app.state.slack = None
        if settings.slack_signing_secret and settings.slack_bot_token:
            from slack_bolt.adapter.fastapi import SlackRequestHandler

            from api.slack import SlackBot

            bot = SlackBot(app.state.runtime, settings.slack_bot_token, settings.slack_signing_secret,
                           settings.slack_api_url)
            app.state.slack = SlackRequestHandler(bot.app)
        yield
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        app.state.jobs.shutdown()
        still_running = app.state.workers.wait(timeout=settings.shutdown_grace_seconds)
        if still_running:
            log.warning("%d turns still running at shutdown; their checkpoints let them be retried", still_running)
        if runtime is None:  # built here: close it here (a runtime passed in belongs to the caller)
            app.state.runtime.close()

    app = FastAPI(title="SciSynth", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Research assistant: answers with page-level citations from your paper library.")
    app.state.metrics, app.state.keys = Metrics(), None
    app.state.workers = TurnWorkers(settings.max_streaming_turns)
    problems.install(app)
    app.add_middleware(Guard, settings=settings, metrics=app.state.metrics, keys=lambda: app.state.keys,
                       limiter=RateLimiter(settings.rate_limit_per_minute, settings.limits_storage, "requests"),
                       auth_failures=RateLimiter(settings.auth_failures_per_minute, settings.limits_storage,
                                                 "auth-failures"))
    if settings.cors_origins:  # outside the guard, so a preflight needs no key
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin_list, allow_methods=["*"],
                           allow_headers=["*"])

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses=problems.responses(503))
    def readyz(runtime: RuntimeDep) -> Response:
        """Ready when the database answers, the vector index holds exactly the catalog's chunks, and the
        configured model answers (llama.cpp: loaded; a hosted model: its /models answered within a minute).
        Public (load balancers send no key), so it says only what is ready, not what the library holds."""
        try:
            chunks = runtime.catalog.chunk_count()
        except Exception as error:  # the database is unreachable or broken
            log.warning("readiness: database check failed: %s", error)
            chunks = None
        model_ok, model_detail = runtime.model.ready() if runtime.model is not None else (True, "extractive")
        checks = {"database": chunks is not None, "index": chunks is not None and runtime.store.count == chunks,
                  "model": model_ok}
        ready = all(checks.values())
        body: dict = {"status": "ready" if ready else "not ready", "checks": checks}
        if not checks["index"] and chunks is not None:
            body["hint"] = "the vector index is out of step with the catalog: run 'scisynth reindex'"
        if not model_ok:
            log.warning("readiness: %s", model_detail)
            body["hint"] = "the language model does not answer (see the server log); turns fall back to extractive"
        return problems.JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse, responses={
        **problems.COMMON, 200: {"description": "Prometheus text format", "content": {CONTENT_TYPE_LATEST: {}}}})
    def metrics(_caller: Reader) -> Response:
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/slack/events", tags=["slack"], responses=problems.responses(400, 401, 404, 413, 502))
    async def slack_events(request: Request) -> Response:
        """Slack's Events API and slash commands; Bolt checks the signature (401 when it is wrong)."""
        if app.state.slack is None:
            return problems.problem(404, "Slack is not configured: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN")
        from api.slack import first_delivery
        try:
            body = await request.body()
        except ClientDisconnect:
            return problems.problem(400, "the request body ended before its declared length")
        if not slack_signature_valid(settings.slack_signing_secret, body, request.headers):
            return problems.problem(401, "the Slack signature or timestamp is missing, wrong or stale")
        if not first_delivery(app.state.runtime.engine, request.headers["x-slack-signature"]):
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

    if settings.api_docs:
        @app.get("/docs", include_in_schema=False)
        def docs() -> FileResponse:
            return FileResponse(STATIC / "docs.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(routes_conversations.router)
    app.include_router(routes_openai.router)
    app.include_router(routes_library.router)
    app.include_router(routes_watches.router)
    return app
