"""deploy/compose.yaml read as the product reads it (no Docker daemon here to start it): every SCISYNTH_ variable
is a real setting, each replica resolves to the shared PostgreSQL + pgvector + Redis backends and keeps its own
home, the proxy reaches both replicas, and the commands are ones the CLI accepts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from agent.settings import Settings, environment_names
from cli.main import HANDLERS
from cli.parser import build_parser
from tests.conftest import ROOT

COMPOSE = ROOT / "deploy" / "compose.yaml"


def _environment(service: dict) -> dict[str, str]:
    """The service's environment with ${VAR:?message} and ${VAR:-default} filled as an operator's .env would."""
    filled = {"POSTGRES_PASSWORD": "secret", "SCISYNTH_API_KEYS": "lab-key"}

    def fill(match: re.Match) -> str:
        name, default = match.group(1), match.group(3) or ""
        return filled.get(name, default if match.group(2) == ":-" else "")

    return {key: re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", fill, str(value))
            for key, value in service["environment"].items()}


def test_the_compose_file_describes_two_replicas_on_shared_backends(tmp_path: Path) -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    replicas = [name for name, service in services.items()
                if "SCISYNTH_DATABASE_URL" in service.get("environment", {}) and not service.get("profiles")]
    assert replicas == ["api-1", "api-2"]
    homes, hostnames = set(), set()
    for name in replicas:
        environment = _environment(services[name])
        unknown = {key for key in environment if key.startswith("SCISYNTH_")
                   and key not in environment_names()}
        assert not unknown, f"{name}: not settings: {unknown}"
        settings = Settings(home=tmp_path / name, **{key.removeprefix("SCISYNTH_").lower(): value
                                                      for key, value in environment.items()
                                                      if key.startswith("SCISYNTH_")})
        assert settings.storage.uses_postgres and settings.storage.resolved_vector_store == "pgvector"
        assert settings.storage.limits_storage == "redis://redis:6379/0" and settings.service.keys == ["lab-key"]
        assert settings.storage.resolved_database_url.split("@")[1] == "postgres:5432/scisynth"
        assert {"postgres", "redis"} <= set(services[name]["depends_on"])
        homes.add(services[name]["volumes"][0].split(":")[0])
        hostnames.add(services[name]["hostname"])
    assert len(homes) == 2  # a replica's home (uploads waiting for its worker) is its own
    assert len(hostnames) == 2  # and its name outlives a recreated container
    proxy_config = (COMPOSE.parent / "haproxy.cfg").read_text()
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in services["proxy"]["volumes"]
    assert re.findall(r"^\s+server (\S+) (\S+) check$", proxy_config, re.MULTILINE) == [
        (name, f"{name}:8000") for name in replicas]
    assert "option httpchk GET /readyz" in proxy_config
    assert services["postgres"]["image"].startswith("pgvector/pgvector:0.8") and "pg18" in services["postgres"]["image"]
    assert services["vllm"]["profiles"] == ["vllm"]  # only when asked for: it needs a GPU
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    command = re.search(r'^CMD \[(.*)\]$', dockerfile, re.MULTILINE).group(1)
    arguments = [part.strip().strip('"') for part in command.split(",")]
    assert arguments[0] == "scisynth"
    parsed = build_parser(HANDLERS, "").parse_args(arguments[1:])
    assert parsed.host == "0.0.0.0" and parsed.port == 8000
    assert "'.[postgres,scale,ray]'" in dockerfile and "make install" in dockerfile


def test_the_ray_profile_joins_workers_to_a_head_that_reads_the_same_papers() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    head, worker = services["ray-head"], services["ray-worker"]
    assert head["profiles"] == worker["profiles"] == ["ray"]  # started only when asked for
    port = head["command"][head["command"].index("--port") + 1]
    assert head["command"][:3] == ["ray", "start", "--head"]
    assert worker["command"][:4] == ["ray", "start", "--address", f"{head['hostname']}:{port}"]
    def mounts(service: dict) -> set[str]:
        return {volume.split(":")[1] for volume in service["volumes"]}

    shared = mounts(head) & mounts(worker)
    assert shared == {"/papers"}  # `ingest --ray` needs every node to read the files at the same path
    assert worker["depends_on"] == {"ray-head": {"condition": "service_healthy"}}


def test_an_empty_papers_setting_means_the_home_folder(tmp_path: Path) -> None:
    assert Settings(home=tmp_path, papers="").storage.papers_dir == tmp_path / "papers"  # never the working directory
    assert Settings(home=tmp_path, papers=str(tmp_path / "shared")).storage.papers_dir == tmp_path / "shared"
