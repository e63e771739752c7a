"""Prometheus metrics of one app: requests, latency, agent turns, LLM tokens, ingested papers, lock waits, answer,
embedding and arXiv cache lookups, and the job queue's depth. deploy/grafana/ draws them."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from agent.llm import answer_cache
from agent.turn import TurnResult
from store.jobs import JobQueue, JobResult
from tools import cache_stats, locks


class LockWaits:
    """Seconds concurrent work spent waiting for each shared lock (tools/locks.py), read at scrape time."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("scisynth_lock_wait_seconds", "Seconds threads waited for a shared lock",
                                     labels=["lock"])
        for name, seconds in sorted(locks.wait_seconds().items()):
            family.add_metric([name], seconds)
        yield family


class AnswerCacheLookups:
    """Answer-cache lookups by outcome (agent/llm/answer_cache.py), read at scrape time: hits / (hits + misses) is
    the hit rate on this replica's real traffic."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("scisynth_answer_cache_lookups", "Model answers looked up in the answer "
                                     "cache (Redis), by outcome", labels=["outcome"])
        for outcome, count in sorted(answer_cache.lookups().items()):
            family.add_metric([outcome], count)
        yield family


class CacheLookups:
    """Embedding and arXiv cache lookups by outcome (tools/cache_stats.py), read at scrape time."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("scisynth_cache_lookups", "Cache lookups by cache (embedding: texts; arxiv: "
                                     "queries) and outcome (hit, miss, stale)", labels=["cache", "outcome"])
        for (cache, outcome), count in sorted(cache_stats.snapshot().items()):
            family.add_metric([cache, outcome], count)
        yield family


class JobDepth:
    """Unfinished jobs of every replica by status, read from the shared database at scrape time."""

    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("scisynth_jobs", "Jobs queued or running, all replicas together",
                                   labels=["status"])
        for status, count in self.jobs.depth().items():
            family.add_metric([status], count)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._job_depth: JobDepth | None = None
        self.requests = Counter("scisynth_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("scisynth_http_request_seconds", "HTTP request latency", ["route"],
                                 registry=self.registry, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
        self.turns = Counter("scisynth_agent_turns_total", "Agent turns by who answered and outcome (ok; "
                             "fallback: a model step failed and rules or extractive stood in; error)",
                             ["provider", "outcome"],
                             registry=self.registry)
        self.llm_tokens = Counter("scisynth_llm_tokens_total", "Model tokens as the provider reported them "
                                  "(input: prompt, output: completion); extractive turns use none",
                                  ["provider", "kind"], registry=self.registry)
        self.ingested = Counter("scisynth_ingested_papers_total", "Papers by ingest outcome", ["status"],
                                registry=self.registry)
        self.registry.register(LockWaits())
        self.registry.register(AnswerCacheLookups())
        self.registry.register(CacheLookups())

    def watch_jobs(self, jobs: JobQueue) -> None:
        """Export the job queue's depth (once the service's queue exists; an app started again reads its new one)."""
        if self._job_depth is None:
            self._job_depth = JobDepth(jobs)
            self.registry.register(self._job_depth)
        self._job_depth.jobs = jobs

    def observe_turn(self, composer: str, result: TurnResult | None) -> None:
        """A turn of the configured `composer` (its result None: it failed): who answered and how, and the model
        tokens it used."""
        if result is None:
            self.turns.labels(composer, "error").inc()
            return
        self.turns.labels(result.provider or "none", "fallback" if result.fallbacks else "ok").inc()
        for kind, tokens in (result.usage.model_dump() if result.usage else {}).items():
            if kind != "total_tokens":
                self.llm_tokens.labels(composer, kind.removesuffix("_tokens")).inc(tokens)

    def observe_job_result(self, result: JobResult) -> None:
        if result.status != "row":  # a table job's row is not an ingest
            self.ingested.labels(result.status).inc()
