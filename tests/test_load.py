"""The load benchmark's short run, in CI (benchmarks/bench_users.py; its full run is 1,000 researchers for 10
minutes): 50 simulated researchers for 2.5 minutes through HAProxy to two replicas on PostgreSQL and Redis. A third
of the way through one replica is killed with SIGKILL and restarted 30 s later; two thirds of the way both are
restarted in turn with SIGTERM, as a rollout does. No question the service accepted is missing from its
conversation, no request fails outside the 30 s after the kill nor during the rolling restart, and every job the
service accepted finishes."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks import bench_users


def test_fifty_researchers_through_a_kill_and_a_rolling_restart(tmp_path: Path) -> None:
    args = argparse.Namespace(users=50, minutes=2.5, spawn_rate=10, kill_replica=True, rolling_restart=True)
    summary = bench_users.run(args, tmp_path)
    assert summary["killed"] and summary["rolling_restart_seconds"], summary
    assert summary["requests"] >= 100, summary  # the researchers really worked
    assert summary["lost_messages"] == 0, summary
    assert summary["errors_outside_failover"] == 0, summary
    assert summary["errors_in_rolling_restart"] == 0, summary
    assert summary["jobs_lost"] == 0 and summary["jobs"] > 0, summary
