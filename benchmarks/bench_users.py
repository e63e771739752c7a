"""Simulated researchers (benchmarks/locustfile.py, Locust, headless) against two `scisynth serve` replicas on one
PostgreSQL + pgvector and one Redis, behind HAProxy running deploy/haproxy.cfg, all on this machine's loopback.

Prints per action: requests, failures, requests/s, p50/p95/p99 ms (a streamed answer also as the time to its first
answer token); per replica: CPU seconds used; the embedding, arXiv and answer cache hit rates from the replicas'
/metrics. With --kill-replica, one replica is killed with SIGKILL a third of the way through and restarted 30 s later;
with --rolling-restart, two thirds of the way through each replica in turn gets SIGTERM (it drains, stops, and is
started again before the next one goes), as compose or Kubernetes roll out a new version. Failures are counted
inside each of those windows and outside them; afterwards every conversation is read back (a user message with no
answer after it is an interrupted turn).

Run: python -m benchmarks.bench_users --users 50 --minutes 2 --kill-replica --rolling-restart [--json]
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
from collections import Counter
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
        text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=120).text
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

    def restart_gracefully(self, name: str, base: str) -> None:
        """SIGTERM (the replica drains and stops on its own), start it again, and return once the proxy at `base`
        sends requests to it again (so the next replica to go leaves one behind)."""
        self._stopped(name)
        self.processes[name].terminate()
        self.processes[name].wait(timeout=120)
        self.start(name)
        deadline = time.monotonic() + 120
        while httpx.get(f"{base}/healthz", timeout=30).headers.get("x-served-by") != name:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the proxy did not send to {name} within 120 s of its restart")
            time.sleep(0.2)

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


ADMIN = "bench-admin"  # the benchmark's own key, to read every job and the metrics


def _keys(users: int) -> str:
    """SCISYNTH_API_KEYS: a member key per simulated researcher (benchmarks/locustfile.py picks load-{i:05d}),
    so each has the per-key limits a lab's researchers have, and an admin key for the benchmark."""
    return ",".join([f"{ADMIN}:admin", *(f"load-{i:05d}:member" for i in range(users))])


def _ledger(path: Path) -> list[dict]:
    """What each simulated researcher had accepted (benchmarks/locustfile.py writes it): its conversation, key,
    questions accepted and jobs' ids."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _message_check(base: str, ledger: list[dict]) -> tuple[int, int]:
    """(lost, interrupted): questions the service accepted that their conversation does not hold, and questions
    stored with no answer after them (a turn a dying replica cut off, reported to its client as a failure)."""
    lost = interrupted = 0
    for entry in (e for e in ledger if e["accepted"]):
        response = httpx.get(f"{base}/v1/conversations/{entry['conversation']}", timeout=120,
                             headers={"Authorization": f"Bearer {entry['key']}"})
        messages = response.json()["messages"] if response.status_code == 200 else []
        roles = [m["role"] for m in messages]
        stored = Counter(m["content"] for m in messages if m["role"] == "user")
        lost += sum((Counter(entry["accepted"]) - stored).values())  # each accepted question, matched by its text
        interrupted += sum(1 for i, role in enumerate(roles)
                           if role == "user" and (i + 1 == len(roles) or roles[i + 1] != "assistant"))
    return lost, interrupted


def _unfinished_jobs(base: str, jobs: list[str], wait: float = 120) -> list[str]:
    """The accepted jobs that did not end done: failed, or still queued or running after `wait` seconds."""
    deadline, waiting, failed = time.monotonic() + wait, list(jobs), []
    admin = {"Authorization": f"Bearer {ADMIN}"}
    while waiting and time.monotonic() < deadline:
        states = {job: httpx.get(f"{base}/v1/jobs/{job}", headers=admin, timeout=60).json().get("status")
                  for job in waiting}
        failed += [job for job, status in states.items() if status == "failed"]
        waiting = [job for job, status in states.items() if status not in ("done", "failed")]
        if waiting:
            time.sleep(1)
    return failed + waiting


def _window(moment: float, windows: dict[str, tuple[float, float]], after: float) -> str:
    """The disruption window (name: start, end) a moment falls in, counted on for `after` seconds past its end
    while the replicas settle; "outside" for none."""
    return next((name for name, (start, end) in windows.items() if start <= moment <= end + after), "outside")


def _failures(path: Path, windows: dict[str, tuple[float, float]]) -> dict[str, dict[str, int]]:
    """Failures from the failure log (benchmarks/locustfile.py writes each with its time) by the window they fall
    in and by kind (action: error, with the request's address taken out)."""
    kinds: dict[str, dict[str, int]] = {name: {} for name in [*windows, "outside"]}
    for line in path.read_text().splitlines() if path.exists() else []:
        failure = json.loads(line)
        kind = f"{failure['action']}: {re.sub(r'for url: .*', '', failure['error'])}".strip()
        counts = kinds[_window(failure["time"], windows, after=5)]
        counts[kind] = counts.get(kind, 0) + 1
    return kinds


def _knee(history: list[dict], windows: dict[str, tuple[float, float]], limit_ms: float = 2000,
          sustained: int = 10) -> tuple[int | None, int]:
    """(researchers at which the p95 of all requests, over Locust's 10 s window, first stayed above `limit_ms`
    for `sustained` seconds outside the kill's and the restart's windows, or None; the most researchers that
    were running)."""
    rows = [row for row in history if row["Name"] == "Aggregated" and row["95%"] not in ("N/A", "")
            and _window(float(row["Timestamp"]), windows, after=10) == "outside"]
    over = 0
    for row in rows:
        over = over + 1 if float(row["95%"]) > limit_ms else 0
        if over == sustained:
            return int(row["User Count"]), max(int(r["User Count"]) for r in rows)
    return None, max((int(r["User Count"]) for r in rows), default=0)


def _locust(base: str, folder: Path, args: argparse.Namespace, seconds: int) -> None:
    environment = {**os.environ, "SCISYNTH_LOAD_QUESTIONS": json.dumps(PDF_QUESTIONS),
                   "SCISYNTH_LOAD_PDF": str(PAPERS / "acl_N18-3011.pdf"),
                   "SCISYNTH_LOAD_LEDGER": str(folder / "ledger"), "SCISYNTH_LOAD_KEYS": str(args.users),
                   "SCISYNTH_LOAD_FAILURES": str(folder / "failures")}
    subprocess.run([sys.executable, "-m", "locust", "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless",
                    "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{seconds}s", "--host", base,
                    "--csv", str(folder / "load"), "--csv-full-history", "--only-summary", "--loglevel", "WARNING"],
                   env=environment, cwd=ROOT, check=False, stdout=subprocess.DEVNULL)


def _disrupt(replicas: Replicas, base: str, args: argparse.Namespace, seconds: int,
             windows: dict[str, tuple[float, float]]) -> None:
    """The kill (a third of the way through) and the rolling restart (two thirds), each window recorded."""
    started = time.time()
    if args.kill_replica:
        time.sleep(max(0.0, started + seconds / 3 - time.time()))
        killed = time.time()
        replicas.kill("api-1")
        time.sleep(FAILOVER_SECONDS)
        replicas.start("api-1")
        windows["failover"] = (killed, killed + FAILOVER_SECONDS)
    if args.rolling_restart:
        time.sleep(max(0.0, started + 2 * seconds / 3 - time.time()))
        begun = time.time()
        for name in replicas.ports:
            replicas.restart_gracefully(name, base)
        windows["rolling restart"] = (begun, time.time())


def run(args: argparse.Namespace, folder: Path) -> dict:
    seconds = round(args.minutes * 60)
    with running_postgres(folder / "pg") as server, running_redis(folder) as redis_url:
        database_url = new_database(server)
        build_library(database_url, folder / "builder", abstracts=300)
        replicas = Replicas(folder, {"SCISYNTH_DATABASE_URL": database_url, "SCISYNTH_REDIS_URL": redis_url,
                                     "SCISYNTH_RATE_LIMIT_PER_MINUTE": "1000000",
                                     "SCISYNTH_MAX_STREAMING_TURNS": "256", "SCISYNTH_DRAIN_SECONDS": "5",
                                     "SCISYNTH_KEEP_ALIVE_SECONDS": "65", "SCISYNTH_API_KEYS": _keys(args.users),
                                     "SCISYNTH_TRUSTED_PROXIES": "127.0.0.1"})  # as compose trusts its proxy
        windows: dict[str, tuple[float, float]] = {}
        try:
            with running_proxy(folder, replicas.ports) as base:
                time.sleep(3)  # the proxy's first health checks
                disruptor = threading.Thread(target=_disrupt, args=(replicas, base, args, seconds, windows))
                started = time.time()
                disruptor.start()
                _locust(base, folder, args, seconds)
                disruptor.join()
                time.sleep(5)
                try:  # after the load, the replicas may still be working off what they accepted
                    hit_rates = _hit_rates([f"http://127.0.0.1:{port}" for port in replicas.ports.values()])
                    ledger = _ledger(folder / "ledger")
                    jobs = [job for entry in ledger for job in entry["jobs"]]
                    lost, interrupted = _message_check(base, ledger)
                    unfinished: list[str] | None = _unfinished_jobs(base, jobs)
                except httpx.HTTPError as error:
                    hit_rates, lost, interrupted, unfinished, jobs = {"not read": str(error)}, None, None, None, []
        finally:
            cpu, stuck = replicas.stop_all()
    rows = list(csv.DictReader((folder / "load_stats.csv").open()))
    history = list(csv.DictReader((folder / "load_stats_history.csv").open()))
    failures = _failures(folder / "failures", windows)
    counted = {where: sum(kinds.values()) for where, kinds in failures.items()}
    knee, most = _knee(history, windows)
    return {"users": args.users, "seconds": seconds, "requests": int(rows[-1]["Request Count"]),
            "errors": int(rows[-1]["Failure Count"]), "errors_outside_failover": counted["outside"],
            "errors_in_failover": counted.get("failover"),
            "errors_in_rolling_restart": counted.get("rolling restart"), "lost_messages": lost,
            "interrupted_turns": interrupted, "jobs": len(jobs),
            "jobs_lost": None if unfinished is None else len(unfinished), "killed": "failover" in windows,
            "rolling_restart_seconds": round(windows["rolling restart"][1] - windows["rolling restart"][0], 1)
            if "rolling restart" in windows else None, "drain_over_60s": stuck,
            "p95_ms": {row["Name"]: float(row["95%"]) for row in rows[:-1]}, "cpu_seconds": cpu,
            "failures_by_window": {where: kinds for where, kinds in failures.items() if kinds},
            "p95_over_2s_at_users": knee,
            "most_users": most, "cores": os.cpu_count(),
            "cache_hit_rates": hit_rates, "wall_seconds": round(time.time() - started, 1),
            "table": [[row["Name"], row["Request Count"], row["Failure Count"], f"{float(row['Requests/s']):.2f}",
                       row["50%"], row["95%"], row["99%"]] for row in rows]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="simulated researchers (default 50)")
    parser.add_argument("--minutes", type=float, default=2, help="how long they work (default 2)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="researchers arriving per second (default 10)")
    parser.add_argument("--kill-replica", action="store_true",
                        help="SIGKILL a replica a third of the way through, restart it 30 s later")
    parser.add_argument("--rolling-restart", action="store_true",
                        help="two thirds of the way through, restart each replica in turn with SIGTERM (drained)")
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
          + (f"; replica api-1 killed a third of the way, restarted {FAILOVER_SECONDS} s later"
             if summary["killed"] else "")
          + (f"; rolling restart (SIGTERM, drained) of both replicas two thirds of the way, "
             f"{summary['rolling_restart_seconds']} s" if summary["rolling_restart_seconds"] else ""))
    show(["action", "requests", "failures", "requests/s", "p50 ms", "p95 ms", "p99 ms"], table)
    print(f"\nerrors outside the kill's and the restart's windows: {summary['errors_outside_failover']}; in the 30 s "
          f"after the kill: {summary['errors_in_failover']}; during the rolling restart: "
          f"{summary['errors_in_rolling_restart']}; lost messages (accepted, not in their conversation): "
          f"{summary['lost_messages']}; interrupted turns (a question stored with no answer, its client told): "
          f"{summary['interrupted_turns']}; jobs accepted: {summary['jobs']}, not done: {summary['jobs_lost']}")
    for where, kinds in summary["failures_by_window"].items():
        print(f"failures {where}: " + "; ".join(f"{count} x {kind}" for kind, count in
                                                 sorted(kinds.items(), key=lambda item: -item[1])))
    knee, cores = summary["p95_over_2s_at_users"], summary["cores"]
    where = "p95 of all requests (10 s windows, outside the kill and the restart)"
    print(f"{where} passed 2 s at {knee} researchers: {knee / cores:.0f} per core" if knee else
          f"{where} stayed under 2 s up to {summary['most_users']} researchers "
          f"({summary['most_users'] / cores:.0f} per core)")
    print(f"CPU seconds per replica: {summary['cpu_seconds']}; cache hit rates: {summary['cache_hit_rates']}"
          + (f"; replicas still draining 60 s after SIGTERM (killed): {summary['drain_over_60s']}"
             if summary["drain_over_60s"] else ""))


if __name__ == "__main__":
    main()
