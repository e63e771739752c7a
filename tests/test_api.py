"""The HTTP API with httpx against the app, and the official openai client against a real uvicorn."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from api.app import create_app
from tests.conftest import PAPERS, running_server


@pytest.fixture(scope="module")
def client(library: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=library)) as test_client:
        yield test_client


def test_healthz_and_a_persisted_conversation(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    conversation = client.post("/v1/conversations", json={"title": "SPECTER"}).json()
    reply = client.post(f"/v1/conversations/{conversation['id']}/messages",
                        json={"content": "How does SPECTER use citations?"})
    assert reply.status_code == 200 and reply.headers["x-request-id"]
    body = reply.json()
    assert body["conversation_id"] == conversation["id"] and body["citations"]
    stored = client.get(f"/v1/conversations/{conversation['id']}").json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]
    assert stored["messages"][1]["content"] == body["answer"]
    assert stored["messages"][1]["citations"] == body["citations"]
    listed = client.get("/v1/conversations").json()["conversations"]
    assert conversation["id"] in [c["id"] for c in listed]
    assert client.delete(f"/v1/conversations/{conversation['id']}").status_code == 204
    assert client.get(f"/v1/conversations/{conversation['id']}").status_code == 404


def test_bad_input_gets_problem_json(client: TestClient) -> None:
    missing = client.get("/v1/conversations/nope")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    bad_id = client.post("/v1/conversations/not%20an%20id/messages", json={"content": "hi"})
    assert bad_id.status_code == 422
    conversation = client.post("/v1/conversations").json()
    invalid = client.post(f"/v1/conversations/{conversation['id']}/messages", content=b"{not json",
                          headers={"content-type": "application/json"})
    assert invalid.status_code == 422 and "not valid" in invalid.json()["detail"]
    empty = client.post(f"/v1/conversations/{conversation['id']}/messages", json={"content": ""})
    assert empty.status_code == 422 and "content" in empty.json()["detail"]
    huge = client.post(f"/v1/conversations/{conversation['id']}/messages", content=b"x" * 2_000_000,
                       headers={"content-type": "application/json"})
    assert huge.status_code == 413
    not_pdf = client.post("/v1/papers", files={"file": ("notes.pdf", b"hello, not a pdf", "application/pdf")})
    assert not_pdf.status_code == 415 and "not a PDF" in not_pdf.json()["detail"]
    assert "Traceback" not in invalid.text
    undecodable = client.post("/v1/conversations", content=b"\xe9\x7f\xff",
                              headers={"content-type": "application/json"})  # not UTF-8: found by schemathesis
    assert undecodable.status_code == 400 and undecodable.headers["content-type"] == "application/problem+json"
    assert "400" in client.get("/openapi.json").json()["paths"]["/v1/conversations"]["post"]["responses"]


def test_a_message_to_a_new_id_starts_that_conversation(client: TestClient) -> None:
    """The same habit as `scisynth ask --conversation lab-1`: the client names the conversation."""
    first = client.post("/v1/conversations/lab-1/messages", json={"content": "How does SPECTER use citations?"})
    assert first.status_code == 200 and first.json()["conversation_id"] == "lab-1"
    client.post("/v1/conversations/lab-1/messages", json={"content": "and what about S2ORC?"})
    stored = client.get("/v1/conversations/lab-1").json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "user", "assistant"]
    assert client.post("/v1/conversations", json={"id": "lab-1"}).status_code == 409


def test_library_endpoints_and_upload_job(client: TestClient, library: Runtime) -> None:
    papers = client.get("/v1/papers").json()
    assert papers["total"] >= 3
    paper_id = papers["papers"][0]["paper_id"]
    assert client.get(f"/v1/papers/{paper_id}").json()["title"]
    assert client.get("/v1/papers/unknown-id").status_code == 404
    results = client.get("/v1/search", params={"q": "citation-informed transformers", "k": 3}).json()["results"]
    assert len(results) == 3 and results[0]["page"]
    job = client.post("/v1/papers", files={"file": ("n18.pdf", (PAPERS / "acl_N18-3011.pdf").read_bytes(),
                                                     "application/pdf")}).json()
    for _ in range(100):
        state = client.get(f"/v1/jobs/{job['id']}").json()
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert state["status"] == "done" and state["results"][0]["status"] == "unchanged"
    hypotheses = client.post("/v1/hypotheses", json={"topic": "citation-informed paper embeddings", "n": 1}).json()
    assert len(hypotheses["hypotheses"]) == 1 and hypotheses["citations"]


def test_operations_endpoints(client: TestClient) -> None:
    assert client.get("/readyz").json()["status"] == "ready"
    metrics = client.get("/metrics").text
    assert "scisynth_http_requests_total" in metrics and "scisynth_agent_turns_total" in metrics
    assert 'scisynth_lock_wait_seconds_total{lock="vector_index"}' in metrics  # the turn searched the index
    assert "<title>SciSynth</title>" in client.get("/").text


def test_api_keys_ownership_and_rate_limit(library: Runtime) -> None:
    settings = Settings(home=library.settings.storage.home, llm="extractive", use_arxiv=False, api_keys="key-a,key-b",
                        rate_limit_per_minute=5)
    runtime = build_runtime(settings, embedder=library.embedder)
    with TestClient(create_app(runtime=runtime)) as keyed:
        assert keyed.get("/healthz").status_code == 200
        assert keyed.get("/v1/conversations").status_code == 401
        assert keyed.get("/v1/conversations", headers={"Authorization": "Bearer wrong"}).status_code == 401
        a, b = {"Authorization": "Bearer key-a"}, {"Authorization": "Bearer key-b"}
        mine = keyed.post("/v1/conversations", json={"title": "private"}, headers=a).json()
        assert keyed.get(f"/v1/conversations/{mine['id']}", headers=b).status_code == 404
        assert keyed.get(f"/v1/conversations/{mine['id']}", headers=a).status_code == 200
        statuses = [keyed.get("/v1/models", headers=b).status_code for _ in range(8)]
        assert 429 in statuses and statuses[0] == 200


@pytest.fixture(scope="module")
def server(library: Runtime) -> Iterator[str]:
    with running_server(create_app(runtime=library)) as url:
        yield url


def _events(response: httpx.Response) -> Iterator[tuple[str, dict]]:
    event = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield event, json.loads(line.removeprefix("data: "))


def test_sse_events_arrive_in_order(server: str) -> None:
    conversation = httpx.post(f"{server}/v1/conversations", json={}).json()
    with httpx.stream("POST", f"{server}/v1/conversations/{conversation['id']}/messages",
                      json={"content": "How does SPECTER use citations?"},
                      headers={"Accept": "text/event-stream"}, timeout=120) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kinds = [event for event, _ in _events(response)]
    assert kinds[0] == "status" and kinds[-1] == "done"
    first_token, first_citation = kinds.index("token"), kinds.index("citation")
    answer_done = kinds.index("status", first_token)  # the answer step's own status follows its tokens
    assert first_token < answer_done < first_citation


def test_disconnect_mid_stream_still_persists_the_answer(server: str) -> None:
    conversation = httpx.post(f"{server}/v1/conversations", json={}).json()
    with httpx.stream("POST", f"{server}/v1/conversations/{conversation['id']}/messages",
                      json={"content": "What does the S2ORC corpus contain?"},
                      headers={"Accept": "text/event-stream"}, timeout=120) as response:
        next(response.iter_lines())  # the first event, then the client goes away
    for _ in range(300):
        messages = httpx.get(f"{server}/v1/conversations/{conversation['id']}").json()["messages"]
        if len(messages) == 2:
            break
        time.sleep(0.2)
    assert [m["role"] for m in messages] == ["user", "assistant"] and messages[1]["citations"]


def test_official_openai_client_works_unchanged(server: str) -> None:
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="unused")
    assert [m.id for m in client.models.list()] == ["scisynth"]
    completion = client.chat.completions.create(model="scisynth", messages=[
        {"role": "user", "content": "How does SPECTER use citations?"}])
    content = completion.choices[0].message.content
    assert "**References**" in content and "[1]" in content
    assert completion.model_extra["citations"][0]["quote"] in content
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
        model="scisynth", messages=[{"role": "user", "content": "How does SPECTER use citations?"}], stream=True))
    assert streamed.strip() == content.strip()


def test_readyz_reports_an_index_out_of_step_with_the_catalog(library: Runtime) -> None:
    settings = Settings(home=library.settings.storage.home, llm="extractive", use_arxiv=False)
    stale = build_runtime(settings, embedder=library.embedder, reset_index=True)  # empty index, full catalog
    with TestClient(create_app(runtime=stale)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["index"] is False
    assert "scisynth reindex" in response.json()["hint"]


def test_a_conversations_references_export_as_bibtex_ris_and_csl_json(server: str) -> None:
    import bibtexparser
    import rispy

    turn = httpx.post(f"{server}/v1/conversations/export-1/messages", timeout=120,
                      json={"content": "How does SPECTER use citations for pretraining?"}).json()
    cited = list(dict.fromkeys(c["title"] for c in turn["citations"]))
    assert cited
    bibtex = httpx.get(f"{server}/v1/conversations/export-1/references")
    assert bibtex.headers["content-type"].startswith("application/x-bibtex")
    assert 'filename="export-1-references.bib"' in bibtex.headers["content-disposition"]
    library = bibtexparser.parse_string(bibtex.text)
    assert not library.failed_blocks and [e["title"].strip("{}") for e in library.entries] == cited
    ris = rispy.loads(httpx.get(f"{server}/v1/conversations/export-1/references?format=ris").text)
    assert [r["title"] for r in ris] == cited and [r["id"] for r in ris] == [e.key for e in library.entries]
    csl = httpx.get(f"{server}/v1/conversations/export-1/references", params={"format": "csl-json"}).json()
    assert [item["title"] for item in csl] == cited and all(item["author"] for item in csl)
    assert httpx.get(f"{server}/v1/conversations/export-1/references?format=doc").status_code == 422
    assert httpx.get(f"{server}/v1/conversations/nobody/references").status_code == 404


def test_references_and_cited_by_link_library_papers(server: str, library: Runtime) -> None:
    ids = {p.title.split(":")[0]: p.paper_id for p in library.catalog.papers()}
    graph = ids["Construction of the Literature Graph in Semantic Scholar"]
    specter = httpx.get(f"{server}/v1/papers/{ids['SPECTER']}/references").json()
    assert len(specter["references"]) >= 50
    linked = [r for r in specter["references"] if r["in_library"]]
    assert [(r["title"].lower(), r["in_library"]) for r in linked] == [
        ("construction of the literature graph in semantic scholar", graph)]
    citing = httpx.get(f"{server}/v1/papers/{graph}/cited-by").json()["cited_by"]
    assert sorted(p["paper_id"] for p in citing) == sorted([ids["SPECTER"], ids["S2ORC"]])
    assert httpx.get(f"{server}/v1/papers/nope/references").status_code == 404
