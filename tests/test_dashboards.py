"""deploy/grafana and deploy/prometheus.yml read as Grafana and Prometheus read them: every dashboard query names a
metric this service exports (read from a running app's /metrics), every panel uses the provisioned data source,
and Prometheus scrapes the compose file's replicas, which Grafana reaches by the compose service names."""

from __future__ import annotations

import json
import re

import yaml
from fastapi.testclient import TestClient

from agent.runtime import Runtime
from api.app import create_app
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
PROMETHEUS_OWN = {"up"}  # series Prometheus makes itself


def _queries() -> list[str]:
    return [target["expr"] for path in DASHBOARDS for panel in json.loads(path.read_text())["panels"]
            for target in panel["targets"]]


def _base(name: str) -> str:
    return re.sub(r"_(bucket|count|sum|total)$", "", name)


def test_every_dashboard_query_names_a_metric_the_service_exports(library: Runtime) -> None:
    with TestClient(create_app(runtime=library)) as client:
        client.get("/v1/papers")
        client.get("/v1/search", params={"q": "citation graph"})
        exposition = client.get("/metrics").text
    exported = {_base(name) for name in re.findall(r"^# TYPE (\w+) ", exposition, re.MULTILINE)}
    assert {"scisynth_jobs", "scisynth_cache_lookups"} <= exported
    assert re.search(r'^scisynth_cache_lookups_total\{cache="embedding",outcome="(hit|miss)"\} [1-9]', exposition,
                     re.MULTILINE), "the search's query embedding was counted"
    assert re.search(r'^scisynth_jobs\{status="queued"\} 0', exposition, re.MULTILINE)
    queries = _queries()
    assert len(queries) >= 12
    named = set()
    for query in queries:
        metrics = set(re.findall(r"\b(scisynth_\w+|up)\b", query))
        assert metrics, f"no metric in {query!r}"
        named |= metrics
    unknown = {name for name in named if _base(name) not in exported and name not in PROMETHEUS_OWN}
    assert not unknown, f"dashboard queries name metrics the service does not export: {sorted(unknown)}"
    for wanted in ("scisynth_agent_turns_total", "scisynth_http_request_seconds_bucket", "scisynth_jobs",
                   "scisynth_lock_wait_seconds_total", "scisynth_cache_lookups_total",
                   "scisynth_answer_cache_lookups_total"):
        assert wanted in named, f"the dashboard does not show {wanted}"


def test_grafana_and_prometheus_are_wired_to_the_compose_services() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    source = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    datasource = source["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090" and "prometheus" in compose
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "scisynth.yaml").read_text())
    mounts = {volume.split(":")[1] for volume in compose["grafana"]["volumes"]}
    assert provider["providers"][0]["options"]["path"] in mounts
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["scrape_configs"][0]
    targets = scrape["static_configs"][0]["targets"]
    replicas = [name for name, service in compose.items()
                if "SCISYNTH_DATABASE_URL" in service.get("environment", {}) and not service.get("profiles")]
    assert targets == [f"{name}:8000" for name in replicas]
    key_mount = next(v for v in compose["prometheus"]["volumes"] if "scisynth-key" in v)
    assert scrape["authorization"]["credentials_file"] == key_mount.split(":")[1]
