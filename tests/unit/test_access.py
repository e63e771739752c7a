"""The access tables of docs/security.md, walked: every route of the app has a row (and every row a route), every job
kind the worker runs has a row, and each route answers each role as its row says (a role below the row's is
refused, the row's role and above are let through). A new route or job kind without a row fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from agent.runtime import Runtime
from api.app import create_app
from retrieval.embeddings import Embedder
from tests.conftest import ROOT, make_runtime

SECURITY = ROOT / "docs" / "security.md"
ROLES = ("public", "reader", "member", "admin")
KEYS = {"reader": "key-r", "member": "key-m", "admin": "key-admin"}
PLACEHOLDERS = {"conversation_id": "no-such-conversation", "paper_id": "no-such-paper", "job_id": "no-such-job",
                "watch_id": "no-such-watch", "path": "app.js", "page": "1", "token": "not-a-token"}


def _table(heading: str) -> list[list[str]]:
    """The rows of the Markdown table under `heading` in docs/security.md, as cells."""
    text = SECURITY.read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row] for row in rows[2:]]  # past the header and its delimiter


def _route_rows() -> dict[tuple[str, str], str]:
    return {(method, path): role for method, path, role, *_ in _table("Routes")}


def _app_routes(app: object) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, from the OpenAPI schema and the routes kept out of it."""
    schema = app.openapi()
    routes = {(method.upper(), path) for path, operations in schema["paths"].items() for method in operations}
    for route in app.routes:
        if isinstance(route, Mount):
            routes.add(("GET", f"{route.path}/{{path}}"))
        elif isinstance(route, Route) and not (isinstance(route, APIRoute) and route.include_in_schema):
            routes |= {(method, route.path) for method in route.methods if method != "HEAD"}
    return routes


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[TestClient, Runtime]]:
    keys = ",".join(f"{key}:{role}" for role, key in KEYS.items())
    runtime = make_runtime(tmp_path_factory.mktemp("access"), embedder, api_keys=keys, api_docs=True,
                           rate_limit_per_minute=10_000, auth_failures_per_minute=10_000)
    with TestClient(create_app(runtime=runtime)) as test_client:
        test_client.app.state.services.jobs.shutdown()  # no job runs: only who may queue one is under test
        yield test_client, runtime
    runtime.engine.dispose()


def test_every_route_has_a_row_and_every_row_a_route(client: tuple[TestClient, Runtime]) -> None:
    served, documented = _app_routes(client[0].app), set(_route_rows())
    assert served - documented == set(), "routes without a row in docs/security.md"
    assert documented - served == set(), "rows in docs/security.md naming no route"
    assert set(_route_rows().values()) <= set(ROLES)


def test_every_job_kind_has_a_row(client: tuple[TestClient, Runtime]) -> None:
    kinds = {row[0] for row in _table("Job kinds")}
    assert kinds == set(client[0].app.state.services.jobs.work)


@pytest.mark.parametrize(("method", "path"), sorted(_route_rows()))
def test_each_role_gets_what_its_row_says(client: tuple[TestClient, Runtime], method: str, path: str) -> None:
    test_client, _runtime = client
    needed = _route_rows()[(method, path)]
    url = re.sub(r"\{(\w+)\}", lambda m: PLACEHOLDERS[m.group(1)], path)
    for role in ROLES:
        headers = {"Authorization": f"Bearer {KEYS[role]}"} if role in KEYS else {}
        # The least a route accepts: JSON bodies are refused by validation (422) once the role is let through.
        response = test_client.request(method, url, headers=headers, json={} if method == "POST" else None)
        allowed = ROLES.index(role) >= ROLES.index(needed)
        if allowed:
            assert response.status_code not in (401, 403), f"{role} refused by {method} {path}: {response.text}"
        else:
            expected = 401 if role == "public" else 403
            assert response.status_code == expected, f"{role} let through {method} {path}: {response.status_code}"


def test_a_check_that_reads_arxiv_adds_papers_so_it_needs_a_member(client: tuple[TestClient, Runtime]) -> None:
    test_client, _runtime = client
    body = {"claim": "Aspirin lowers the risk of stroke", "arxiv": True}
    refused = test_client.post("/v1/check", json=body, headers={"Authorization": f"Bearer {KEYS['reader']}"})
    assert refused.status_code == 403 and "member" in refused.json()["detail"]
    # a member gets past the role, and is told this server has arXiv turned off (the tests' runtimes do)
    off = test_client.post("/v1/check", json=body, headers={"Authorization": f"Bearer {KEYS['member']}"})
    assert off.status_code == 409 and "SCISYNTH_USE_ARXIV=false" in off.json()["detail"]
    table = {"query": "aspirin and stroke", "columns": ["Sample size?"], "arxiv": True}  # a table's reading too
    refused = test_client.post("/v1/tables", json=table, headers={"Authorization": f"Bearer {KEYS['reader']}"})
    assert refused.status_code == 403 and "member" in refused.json()["detail"]
    off = test_client.post("/v1/tables", json=table, headers={"Authorization": f"Bearer {KEYS['member']}"})
    assert off.status_code == 409 and "SCISYNTH_USE_ARXIV=false" in off.json()["detail"]


def test_the_threat_model_names_every_setting_it_relies_on() -> None:
    from agent.settings import environment_names

    named = {f"SCISYNTH_{name}" for name in re.findall(r"`SCISYNTH_([A-Z_]+)`", SECURITY.read_text())}
    assert named and named <= set(environment_names()), named - set(environment_names())
