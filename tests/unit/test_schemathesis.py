"""Property-based API tests with schemathesis against the app's own OpenAPI schema: generated requests
(valid and invalid) to every operation, then call sequences that follow the links schemathesis infers
(create a conversation, then read, post to and delete it). No response may be a 5xx, and every status
code the API answers with must be documented in the schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from api.app import create_app
from retrieval.embeddings import Embedder
from tests.conftest import DATA, make_runtime

ADMIN = {"Authorization": "Bearer schema-admin"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
# No example database: a run never replays examples an older schema generated (a clean clone has none either).
BOUNDED = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[FastAPI]:
    home = tmp_path_factory.mktemp("schemathesis")
    # Limits out of the way (jobs too: how fast the first test's queued jobs drain depends on the machine's load, and
    # a 429 there changed which calls the state machine made next)
    runtime = make_runtime(home, embedder, api_keys="schema-admin:admin", rate_limit_per_minute=1_000_000,
                           auth_failures_per_minute=1_000_000, max_pending_jobs=1_000_000,
                           arxiv_api_url="http://127.0.0.1:9/api/query", arxiv_delay_seconds=0)
    records = home / "abstracts.jsonl"
    lines = (DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl").read_text().splitlines()[:40]
    records.write_text("\n".join(lines) + "\n")
    runtime.ingestor.ingest_paths([records])
    app = create_app(runtime=runtime)
    with TestClient(app):  # runs the lifespan: keys, jobs
        yield app
    runtime.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(api_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", api_app, headers=ADMIN)


def test_every_operation_answers_without_server_errors(api_schema: schemathesis.BaseSchema) -> None:
    failures = []
    for loaded in api_schema.get_all_operations():
        operation = loaded.ok()

        @given(case=operation.as_strategy())
        @BOUNDED
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=ADMIN, checks=CHECKS)

        try:
            call()
        except Exception as error:  # report every operation's failure, not only the first
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)


def test_call_sequences_answer_without_server_errors(api_schema: schemathesis.BaseSchema) -> None:
    machine = api_schema.as_state_machine()

    seen: list[tuple[str, int]] = []

    class AuthedMachine(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict:
            return {"headers": ADMIN}

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            seen.append((case.operation.label, response.status_code))

        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case, **kwargs: object
                              ) -> None:
            case.validate_response(response, checks=CHECKS)

    AuthedMachine.run(settings=settings(BOUNDED, max_examples=15, stateful_step_count=5))
    # The links were followed: an operation on a resource an earlier response named (a path parameter) succeeded.
    # (Which one varies with the machine's load: once a conversation read back, once a watch listed then deleted.)
    assert any("{" in label and 200 <= status < 300 for label, status in seen), seen


def test_the_schema_documents_problem_responses(api_app: FastAPI) -> None:
    document = json.loads(json.dumps(api_app.openapi()))
    for path, methods in document["paths"].items():
        if not path.startswith(("/v1/", "/metrics")):
            continue  # liveness, readiness and Slack need no key
        for method, operation in methods.items():
            for status in ("401", "422", "429", "500"):
                assert status in operation["responses"], f"{method.upper()} {path} does not document {status}"


def test_schemathesis_would_catch_an_undocumented_status(tmp_path: Path, embedder: Embedder) -> None:
    """The gate can fail: a route answering 418, which no schema documents, is reported."""
    from fastapi import HTTPException

    from api import problems

    runtime = make_runtime(tmp_path, embedder)
    app = create_app(runtime=runtime)

    @app.get("/v1/teapot", responses=problems.COMMON)
    def teapot() -> dict:
        raise HTTPException(418, "I am a teapot")

    with TestClient(app):
        loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
        operation = loaded["/v1/teapot"]["GET"]
        case = operation.Case()
        with pytest.raises(FailureGroup) as caught:
            case.call_and_validate(checks=CHECKS)
    assert "418" in str(caught.value.exceptions[0])
