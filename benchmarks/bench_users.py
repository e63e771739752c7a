"""Simulated researchers (benchmarks/locustfile.py, Locust, headless) against two `scisynth serve` replicas on one
PostgreSQL + pgvector and one Redis, behind HAProxy running deploy/haproxy.cfg, all on this machine's loopback.

Prints per action: requests, failures, requests/s, p50/p95/p99 ms; per replica: CPU seconds used; the embedding,
arXiv and answer cache hit rates from the replicas' /metrics. With --kill-replica, one replica is killed with
SIGKILL half-way through and restarted 30 s later; failures are then counted inside and outside that window, and
afterwards every conversation is read back (a user message with no answer after it is an interrupted turn) and
every job must have finished.

Run: python -m benchmarks.bench_users --users 50 --minutes 2 --kill-replica [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.bench_api import PDF_QUESTIONS
from benchmarks.bench_replicas import build_library
from evals.report import show
from tests.conftest import PAPERS, ROOT, free_port, serve_process
from tests.postgres_server import new_database, running_postgres
from tests.proxy_server import running_proxy
from tests.redis_server import running_redis

FAILOVER_SECONDS = 30


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hit_rates(bases: list[str]) -> dict[str, str]:
    counts: dict[tuple[str, str], float] = {}
    for base in bases:
        text = httpx.get(f"{base}/metrics", timeout=120).text
        for cache, outcome, value in re.findall(r'^scisynth_cache_lookups_total\{cache="(\w+)",outcome="(\w+)"\} (\S+)',
                                                text, re.MULTILINE):
            counts[(cache, outcome)] = counts.get((cache, outcome), 0) + float(value)
        for outcome, value in re.findall(r'^scisynth_answer_cache_lookups_total\{outcome="(\w+)"\} (\S+)', text,
                                         re.MULTILINE):
            counts[("answer", outcome)] = counts.get(("answer", outcome), 0) + float(value)
    rates = {}
    for cache in sorted({cache for cache, _ in counts}):
        hits, total = counts.get((cache, "hit"), 0), sum(v for (c, _), v in counts.items() if c == cache)
        rates[cache] = f"{hits / total:.2f} of {int(total)}" if total else "no lookups"
    return rates


class Replicas:
    """The `scisynth serve` processes, each on a fixed port (a restarted one comes back where the proxy looks), with
    the CPU seconds each has used."""

    def __init__(self, folder: Path, shared: dict[str, str]) -> None:
        self.folder, self.shared = folder, shared
        self.ports = {"api-1": free_port(), "api-2": free_port()}
        self.processes: dict[str, subprocess.Popen] = {}
        self.used = dict.fromkeys(self.ports, 0.0)
        for name in self.ports:
            self.start(name)

    def start(self, name: str) -> None:
        self.processes[name] = serve_process(self.folder / name, port=self.ports[name], **self.shared)[0]
        self.used[name] -= _cpu_seconds(self.processes[name].pid)

    def _stopped(self, name: str) -> None:
        self.used[name] += _cpu_seconds(self.processes[name].pid)

    def kill(self, name: str) -> None:
        self._stopped(name)
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def stop_all(self) -> tuple[dict[str, float], list[str]]:
        """Stop every replica (SIGTERM: a graceful drain); CPU seconds used, and the replicas that had to be
        killed after 60 s of draining."""
        stuck = []
        for name, process in self.processes.items():
            if process.poll() is None:
                self._stopped(name)
                process.terminate()
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    stuck.append(name)
                    process.kill()
                    process.wait()
        return {name: round(seconds, 1) for name, seconds in self.used.items()}, stuck


def _interrupted_turns(base: str) -> int:
    """Questions stored with no answer after them, over every conversation: turns a dying replica cut off."""
    interrupted, offset, conversations = 0, 0, []
    while page := httpx.get(f"{base}/v1/conversations", params={"limit": 100, "offset": offset},
                            timeout=120).json()["conversations"]:
        conversations += page
        offset += len(page)
    for conversation in conversations:
        roles = [m["role"] for m in httpx.get(f"{base}/v1/conversations/{conversation['id']}",
                                              timeout=120).json()["messages"]]
        interrupted += sum(1 for i, role in enumerate(roles)
                           if role == "user" and (i + 1 == len(roles) or roles[i + 1] != "assistant"))
    return interrupted


def _failures(history: list[dict], window: tuple[float, float] | None) -> tuple[int, int]:
    """Failures (inside, outside) the failover window, from Locust's per-second history."""
    inside = outside = 0.0
    previous = 0.0
    for row in (row for row in history if row["Name"] == "Aggregated"):
        total = float(row["Total Failure Count"])
        new, previous = total - previous, total
        if window and window[0] <= float(row["Timestamp"]) <= window[1] + 5:
            inside += new
        else:
            outside += new
    return int(inside), int(outside)


def _locust(base: str, folder: Path, args: argparse.Namespace, seconds: int) -> None:
    environment = {**os.environ, "SCISYNTH_LOAD_QUESTIONS": json.dumps(PDF_QUESTIONS),
                   "SCISYNTH_LOAD_PDF": str(PAPERS / "acl_N18-3011.pdf")}
    subprocess.run([sys.executable, "-m", "locust", "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless",
                    "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{seconds}s", "--host", base,
                    "--csv", str(folder / "load"), "--csv-full-history", "--only-summary", "--loglevel", "WARNING"],
                   env=environment, cwd=ROOT, check=False, stdout=subprocess.DEVNULL)


def run(args: argparse.Namespace, folder: Path) -> dict:
    seconds = round(args.minutes * 60)
    with running_postgres(folder / "pg") as server, running_redis(folder) as redis_url:
        database_url = new_database(server)
        build_library(database_url, folder / "builder", abstracts=300)
        replicas = Replicas(folder, {"SCISYNTH_DATABASE_URL": database_url, "SCISYNTH_REDIS_URL": redis_url,
                                     "SCISYNTH_RATE_LIMIT_PER_MINUTE": "1000000",
                                     "SCISYNTH_MAX_STREAMING_TURNS": "256"})
        killed_at: list[float] = []

        def kill_and_restart() -> None:
            time.sleep(seconds / 2)
            killed_at.append(time.time())
            replicas.kill("api-1")
            time.sleep(FAILOVER_SECONDS)
            replicas.start("api-1")

        try:
            with running_proxy(folder, replicas.ports) as base:
                time.sleep(3)  # the proxy's first health checks
                killer = threading.Thread(target=kill_and_restart) if args.kill_replica else None
                started = time.time()
                if killer:
                    killer.start()
                _locust(base, folder, args, seconds)
                if killer:
                    killer.join()
                time.sleep(5)
                try:  # after the load, the replicas may still be working off what they accepted
                    hit_rates = _hit_rates([f"http://127.0.0.1:{port}" for port in replicas.ports.values()])
                    interrupted: int | None = _interrupted_turns(base)
                except httpx.HTTPError as error:
                    hit_rates, interrupted = {"not read": str(error)}, None
        finally:
            cpu, stuck = replicas.stop_all()
    rows = list(csv.DictReader((folder / "load_stats.csv").open()))
    window = (killed_at[0], killed_at[0] + FAILOVER_SECONDS) if killed_at else None
    inside, outside = _failures(list(csv.DictReader((folder / "load_stats_history.csv").open())), window)
    return {"users": args.users, "seconds": seconds, "requests": int(rows[-1]["Request Count"]),
            "errors": int(rows[-1]["Failure Count"]), "errors_outside_failover": outside, "errors_in_failover": inside,
            "interrupted_turns": interrupted, "killed": bool(killed_at), "drain_over_60s": stuck,
            "p95_ms": {row["Name"]: float(row["95%"]) for row in rows[:-1]}, "cpu_seconds": cpu,
            "cache_hit_rates": hit_rates, "wall_seconds": round(time.time() - started, 1),
            "table": [[row["Name"], row["Request Count"], row["Failure Count"], f"{float(row['Requests/s']):.2f}",
                       row["50%"], row["95%"], row["99%"]] for row in rows]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="simulated researchers (default 50)")
    parser.add_argument("--minutes", type=float, default=2, help="how long they work (default 2)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="researchers arriving per second (default 10)")
    parser.add_argument("--kill-replica", action="store_true", help="SIGKILL a replica half-way, restart it 30 s later")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()
    if shutil.which("haproxy") is None:
        parser.exit(2, "haproxy is not installed: apt-get install haproxy\n")
    with tempfile.TemporaryDirectory() as folder:
        summary = run(args, Path(folder))
    table = summary.pop("table")
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{args.users} researchers for {summary['seconds']} s through HAProxy to 2 replicas (PostgreSQL + pgvector, "
          "Redis), think time 20-60 s, extractive answers, all on this machine's 2 cores"
          + (f"; replica api-1 killed half-way, restarted {FAILOVER_SECONDS} s later" if summary["killed"] else ""))
    show(["action", "requests", "failures", "requests/s", "p50 ms", "p95 ms", "p99 ms"], table)
    print(f"\nerrors outside the failover window: {summary['errors_outside_failover']}; inside it: "
          f"{summary['errors_in_failover']}; interrupted turns (a question with no answer stored): "
          f"{summary['interrupted_turns']}")
    print(f"CPU seconds per replica: {summary['cpu_seconds']}; cache hit rates: {summary['cache_hit_rates']}"
          + (f"; replicas still draining 60 s after SIGTERM (killed): {summary['drain_over_60s']}"
             if summary["drain_over_60s"] else ""))


if __name__ == "__main__":
    main()
