"""Security regressions, one test (or more) per finding of the adversarial review (issue 13): hostile ids
and uploads, body caps before auth, 4xx instead of 500, leftover uploads, leaked SQL, invisible 500s, open
routes, tenancy and roles, request ids, headers, Slack bodies, and durable jobs."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent.runtime import Runtime
from agent.turn import TurnResult
from api.app import create_app
from retrieval.embeddings import Embedder
from store.jobs import JobRow
from tests.conftest import PAPERS, make_runtime, running_server
from tests.pdf_factory import write_pdf
from tools.arxiv_ids import abs_url, is_arxiv_id
from tools.documents import DocumentError
from tools.parsers import iter_documents

KEYS = "admin-key:admin,key-a:member,key-b:member,key-r:reader"
ADMIN, A, B, READER = ({"Authorization": f"Bearer {k}"} for k in ("admin-key", "key-a", "key-b", "key-r"))
EVIL_ID = 'x1"><img src=x onerror=alert(1)>'
SMALL_PDF = PAPERS / "acl_N18-3011.pdf"


def _secure_runtime(home: Path, embedder: Embedder, **settings: object) -> Runtime:
    values = {"api_keys": KEYS, "rate_limit_per_minute": 10_000, "max_body_bytes": 64 * 1024,
              "max_upload_bytes": 3 * 1024 * 1024, **settings}
    return make_runtime(home, embedder, **values)


@pytest.fixture
def secure(tmp_path: Path, embedder: Embedder) -> Iterator[tuple[TestClient, Runtime]]:
    runtime = _secure_runtime(tmp_path, embedder)
    with TestClient(create_app(runtime=runtime)) as client:
        yield client, runtime
    runtime.engine.dispose()


def _wait(client: TestClient, job_id: str, headers: dict) -> dict:
    for _ in range(300):
        state = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if state.get("status") in ("done", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {state}")


def _upload(client: TestClient, headers: dict, data: bytes, name: str = "paper.pdf"):
    return client.post("/v1/papers", files={"file": (name, data, "application/pdf")}, headers=headers)


def _uploads(runtime: Runtime) -> list[Path]:
    folder = runtime.settings.storage.papers_dir / "uploads"
    return sorted(folder.iterdir()) if folder.is_dir() else []


async def _raw(app: FastAPI, method: str, path: str, headers: dict[str, str], chunks: Iterable[bytes]
               ) -> tuple[int, dict[bytes, bytes], bytes, int]:
    """One request straight through the ASGI stack; returns status, headers, body and how many body
    chunks the server pulled (to see whether it read a body at all)."""
    pieces, consumed, sent = iter(chunks), 0, []

    async def receive() -> dict:
        nonlocal consumed
        chunk = next(pieces, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        consumed += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "state": {},
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body, consumed


# 1. Stored XSS: hostile ids never become links; a file's content, not its name, picks its reader.

def test_hostile_record_id_is_not_an_arxiv_id_and_gets_no_url(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder)
    record = {"paper_id": EVIL_ID, "metadata": {"title": "<script>alert(1)</script>"},
              "body_text": [{"section": "Intro", "text": "Gradient clipping stabilises training of deep networks."}]}
    path = tmp_path / "evil.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert [r.status for r in runtime.ingestor.ingest_paths([path])] == ["added"]
    row = runtime.catalog.find_paper(EVIL_ID)
    assert row.arxiv_id is None and row.url is None
    assert runtime.searcher.search("gradient clipping", k=1)[0].url is None


@pytest.mark.parametrize("text", ["2104.12255\n", "---/1234567", "2104.12255 ", "x1\"><img>", "hep-th//9901001", ""])
def test_arxiv_id_validator_rejects_lookalikes(text: str) -> None:
    assert not is_arxiv_id(text) and abs_url(text) is None


@pytest.mark.parametrize("text", ["2104.12255", "2104.12255v2", "1605.08386", "hep-th/9901001", "math.AG/0309136v1",
                                  "cond-mat/0207270"])
def test_arxiv_id_validator_accepts_real_ids(text: str) -> None:
    assert is_arxiv_id(text) and abs_url(text) == f"https://arxiv.org/abs/{text}"


def test_a_pdf_named_jsonl_is_read_as_a_pdf(tmp_path: Path) -> None:
    disguised = tmp_path / "evil.jsonl"
    disguised.write_bytes(b"%PDF-1.4\n" + json.dumps({"paper_id": EVIL_ID, "body_text": []}).encode() + b"\n")
    [item] = list(iter_documents(disguised))
    assert isinstance(item, DocumentError) and "PDF" in item.reason
    real = tmp_path / "real.jsonl"
    shutil.copy(SMALL_PDF, real)
    [document] = list(iter_documents(real))
    assert document.source == "pdf" and document.page_count == 8


def test_web_page_sends_a_strict_content_security_policy(secure: tuple[TestClient, Runtime]) -> None:
    client, _ = secure
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and "style=" not in page.text and "onclick" not in page.text
    script = client.get("/static/app.js").text
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


def test_disguised_upload_is_refused_and_leaves_nothing(secure: tuple[TestClient, Runtime]) -> None:
    client, runtime = secure
    evil = b"%PDF-1.4\n" + json.dumps({"paper_id": EVIL_ID, "body_text": [{"text": "x"}]}).encode()
    job = _upload(client, A, evil, name="evil.jsonl").json()
    state = _wait(client, job["id"], A)
    assert state["status"] == "failed" and state["results"][0]["path"] == "evil.jsonl"
    assert runtime.catalog.find_paper(EVIL_ID) is None and _uploads(runtime) == []


# 2. Body caps on bytes actually received, and no body read before authentication.

def test_no_key_is_refused_before_any_body_byte_is_read(secure: tuple[TestClient, Runtime]) -> None:
    client, _ = secure
    body = (b"x" * 65536 for _ in range(5000))  # 300 MB, chunked (no content-length)
    status, _, _, consumed = anyio.run(_raw, client.app, "POST", "/v1/conversations",
                                       {"content-type": "application/json"}, body)
    assert status == 401 and consumed == 0


def test_chunked_json_body_stops_at_the_cap(secure: tuple[TestClient, Runtime]) -> None:
    client, runtime = secure
    body = (b"x" * 65536 for _ in range(5000))
    status, _, payload, consumed = anyio.run(_raw, client.app, "POST", "/v1/conversations",
                                             {"content-type": "application/json", **_lower(A)}, body)
    assert status == 413 and b"limit" in payload
    assert consumed <= runtime.settings.service.max_body_bytes // 65536 + 2


def test_chunked_upload_stops_at_the_cap_and_leaves_nothing(secure: tuple[TestClient, Runtime]) -> None:
    client, runtime = secure
    boundary = "xyz"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n").encode()
    body = iter([head, *(b"0" * 65536 for _ in range(4800))])
    status, _, _, consumed = anyio.run(_raw, client.app, "POST", "/v1/papers",
                                       {"content-type": f"multipart/form-data; boundary={boundary}", **_lower(A)},
                                       body)
    assert status == 413 and consumed <= runtime.settings.service.max_upload_bytes // 65536 + 3
    assert _uploads(runtime) == []


def test_declared_oversized_body_is_refused_unread(secure: tuple[TestClient, Runtime]) -> None:
    client, _ = secure
    status, _, _, consumed = anyio.run(_raw, client.app, "POST", "/v1/conversations",
                                       {"content-type": "application/json", "content-length": "300000000",
                                        **_lower(A)}, [b"{}"])
    assert status == 413 and consumed == 0


def test_upload_quota_per_key(tmp_path: Path, embedder: Embedder) -> None:
    runtime = _secure_runtime(tmp_path, embedder, upload_quota_mb=1)
    with TestClient(create_app(runtime=runtime)) as client:
        first = _upload(client, A, (PAPERS / "acl_2020.acl-main.207.pdf").read_bytes())  # 0.7 MB of 1 MB
        refused = _upload(client, A, (PAPERS / "acl_2020.acl-main.447.pdf").read_bytes())  # 2.1 MB more
        assert first.status_code == 202
        assert refused.status_code == 413 and "quota" in refused.json()["detail"]
        assert _upload(client, B, SMALL_PDF.read_bytes()).status_code == 202  # B has a quota of its own
        _wait(client, first.json()["id"], A)
    assert len(_uploads(runtime)) <= 2


def _lower(headers: dict) -> dict:
    return {k.lower(): v for k, v in headers.items()}


# 3. Client errors are problem+json 4xx, never 500.

@pytest.mark.parametrize("body", [b"{bad", b'{"arxiv_id":5}', b"[]", b"", b'{"arxiv_id":"2104.12255\\n"}',
                                  b'{"arxiv_id":"---/1234567"}'])
def test_bad_paper_requests_are_422(secure: tuple[TestClient, Runtime], body: bytes) -> None:
    client, _ = secure
    response = client.post("/v1/papers", content=body, headers={**A, "content-type": "application/json"})
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("content", [[{"type": "image_url", "image_url": {"url": "http://x"}}], ["hi"],
                                     [{"type": "text", "text": 5}], [{"type": "text", "text": "   "}]])
def test_bad_chat_content_is_422(secure: tuple[TestClient, Runtime], content: list) -> None:
    client, _ = secure
    response = client.post("/v1/chat/completions", headers=A,
                           json={"model": "scisynth", "messages": [{"role": "user", "content": content}]})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("path", ["/v1/papers?offset=9223372036854775808", f"/v1/papers?offset={10**30}",
                                  "/v1/conversations?offset=9223372036854775808", "/v1/papers?limit=-1",
                                  "/v1/search?q=x&k=100000000000000000000"])
def test_out_of_range_numbers_are_422(secure: tuple[TestClient, Runtime], path: str) -> None:
    client, _ = secure
    assert client.get(path, headers=A).status_code == 422


# 4. Uploads never linger: failed, too large or duplicate uploads leave no file; an added paper keeps its file.

def test_uploads_are_kept_only_when_they_become_papers(secure: tuple[TestClient, Runtime], tmp_path: Path) -> None:
    client, runtime = secure
    added = _wait(client, _upload(client, A, SMALL_PDF.read_bytes()).json()["id"], A)
    assert added["results"][0]["status"] == "added" and len(_uploads(runtime)) == 1
    duplicate = _wait(client, _upload(client, B, SMALL_PDF.read_bytes()).json()["id"], B)
    assert duplicate["results"][0]["status"] == "unchanged" and len(_uploads(runtime)) == 1
    broken = _wait(client, _upload(client, A, b"%PDF-1.4 truncated").json()["id"], A)
    assert broken["status"] == "failed" and len(_uploads(runtime)) == 1
    too_big = _upload(client, A, b"%PDF-1.4" + b"0" * (4 * 1024 * 1024))
    assert too_big.status_code == 413 and len(_uploads(runtime)) == 1
    not_pdf = _upload(client, A, b"hello")
    assert not_pdf.status_code == 415 and len(_uploads(runtime)) == 1
    paper = runtime.catalog.find_paper(added["results"][0]["paper_id"])
    assert Path(paper.path) == _uploads(runtime)[0] and paper.added_by


# 5. A concurrent duplicate is "unchanged", and no job shows SQL or server paths to anyone.

def test_a_paper_added_meanwhile_comes_back_unchanged(tmp_path: Path, embedder: Embedder,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = make_runtime(tmp_path, embedder)
    [first] = runtime.ingestor.ingest_paths([SMALL_PDF])
    calls = []
    original = runtime.ingestor.known

    def stale_check(document, added_by=None):  # the other writer commits between our check and our insert
        calls.append(document.paper_id)
        return None if len(calls) == 1 else original(document, added_by)

    monkeypatch.setattr(runtime.ingestor, "known", stale_check)
    [again] = runtime.ingestor.ingest_paths([SMALL_PDF])
    assert first.status == "added" and again.status == "unchanged" and len(calls) == 2
    assert runtime.store.count == runtime.catalog.chunk_count()


def test_a_failing_job_shows_only_its_id(secure: tuple[TestClient, Runtime], monkeypatch: pytest.MonkeyPatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    client, runtime = secure

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("(sqlite3.IntegrityError) INSERT INTO papers ... /secret/path.pdf")

    monkeypatch.setattr(runtime.ingestor, "ingest_paths", explode)
    with caplog.at_level(logging.ERROR):
        job = _upload(client, A, SMALL_PDF.read_bytes()).json()
        state = _wait(client, job["id"], A)
    assert state["status"] == "failed" and job["id"] in state["error"]
    assert "INSERT" not in json.dumps(state) and "/secret" not in json.dumps(state)
    assert "INSERT INTO papers" in caplog.text and job["id"] in caplog.text
    assert _uploads(runtime) == []


# 6. A 500 is counted, carries a request id, and names only that id.

def test_unexpected_errors_are_counted_and_carry_a_request_id(secure: tuple[TestClient, Runtime],
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    client, runtime = secure

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(runtime.searcher, "search", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get("/v1/search?q=anything", headers={**A, "X-Request-ID": "trace-500"})
    assert response.status_code == 500 and response.headers["x-request-id"] == "trace-500"
    assert response.json()["request_id"] == "trace-500" and "hunter2" not in response.text
    assert "request_id=trace-500" in caplog.text and "hunter2" in caplog.text
    metrics = client.get("/metrics", headers=ADMIN).text
    assert 'route="/v1/search",status="500"' in metrics


# 7. Only liveness, readiness, the page and Slack are open; metric labels stay bounded.

def test_operational_routes_need_a_key(secure: tuple[TestClient, Runtime]) -> None:
    client, _ = secure
    for path in ("/metrics", "/openapi.json", "/docs", "/redoc", "/v1/papers"):
        assert client.get(path).status_code == 401, path
    assert client.get("/metrics", headers=READER).status_code == 200
    assert client.get("/docs", headers=ADMIN).status_code == 404  # docs are off unless SCISYNTH_API_DOCS
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and "papers" not in ready and "provider" not in ready


def test_docs_when_enabled_use_no_third_party_script(tmp_path: Path, embedder: Embedder) -> None:
    runtime = _secure_runtime(tmp_path, embedder, api_docs=True)
    with TestClient(create_app(runtime=runtime)) as client:
        docs = client.get("/docs")
        assert docs.status_code == 200 and "cdn" not in docs.text.lower() and "<script src=\"/static/" in docs.text
        assert client.get("/openapi.json").status_code == 200


def test_made_up_methods_and_paths_add_no_metric_series(secure: tuple[TestClient, Runtime]) -> None:
    client, _ = secure
    for i in range(200):
        client.request(f"M{i}", f"/made-up/{i}", headers=A)
    metrics = client.get("/metrics", headers=ADMIN).text
    series = [line for line in metrics.splitlines() if line.startswith("scisynth_http_requests_total{")]
    assert len(series) < 20 and not any("M1" in s or "made-up" in s for s in series)


# 8. Tenancy and roles.

def test_only_the_uploader_or_an_admin_deletes_a_paper(secure: tuple[TestClient, Runtime]) -> None:
    client, runtime = secure
    job = _wait(client, _upload(client, A, SMALL_PDF.read_bytes()).json()["id"], A)
    paper_id = job["results"][0]["paper_id"]
    assert client.get(f"/v1/jobs/{job['id']}", headers=B).status_code == 404  # B cannot read A's job
    assert client.get(f"/v1/jobs/{job['id']}", headers=ADMIN).status_code == 200
    assert client.get(f"/v1/papers/{paper_id}", headers=B).status_code == 200  # the library is shared
    assert client.delete(f"/v1/papers/{paper_id}", headers=B).status_code == 403
    assert client.delete(f"/v1/papers/{paper_id}", headers=READER).status_code == 403
    assert _upload(client, READER, SMALL_PDF.read_bytes()).status_code == 403
    assert client.delete(f"/v1/papers/{paper_id}", headers=A).status_code == 204
    again = _wait(client, _upload(client, A, SMALL_PDF.read_bytes()).json()["id"], A)["results"][0]["paper_id"]
    assert client.delete(f"/v1/papers/{again}", headers=ADMIN).status_code == 204
    assert runtime.catalog.paper_count() == 0


def test_conversations_stay_private(secure: tuple[TestClient, Runtime]) -> None:
    client, _ = secure
    mine = client.post("/v1/conversations", json={"title": "private"}, headers=A).json()
    assert client.get(f"/v1/conversations/{mine['id']}", headers=B).status_code == 404
    assert client.delete(f"/v1/conversations/{mine['id']}", headers=B).status_code == 404
    theirs = client.post(f"/v1/conversations/{mine['id']}/messages", json={"content": "hi"}, headers=B)
    assert theirs.status_code == 200  # B's own conversation under the same id: A's stays untouched
    assert client.get(f"/v1/conversations/{mine['id']}", headers=A).json()["messages"] == []


# 9. Smaller findings.

def test_failed_authentication_is_rate_limited(tmp_path: Path, embedder: Embedder) -> None:
    runtime = _secure_runtime(tmp_path, embedder, auth_failures_per_minute=5)
    with TestClient(create_app(runtime=runtime)) as client:
        responses = [client.get("/v1/papers", headers={"Authorization": f"Bearer guess-{i}"}) for i in range(8)]
        assert [r.status_code for r in responses] == [401] * 5 + [429] * 3
        assert int(responses[-1].headers["retry-after"]) >= 1


@pytest.mark.parametrize("sent", ["x" * 8192, "<script>alert(1)</script>", "a b", "ok\r\nx"])
def test_request_ids_are_never_echoed_unless_plain(secure: tuple[TestClient, Runtime], sent: str) -> None:
    client, _ = secure
    try:
        response = client.get("/healthz", headers={"X-Request-ID": sent})
    except Exception:  # the HTTP client itself refuses a header with a line break: nothing to echo
        return
    echoed = response.headers["x-request-id"]
    assert echoed != sent and len(echoed) <= 64 and echoed.isalnum()
    assert client.get("/healthz", headers={"X-Request-ID": "job-42.a_b"}).headers["x-request-id"] == "job-42.a_b"


def test_signed_slack_request_with_malformed_json_is_400(tmp_path: Path, embedder: Embedder) -> None:
    from tests.test_slack import SECRET, signed

    runtime = make_runtime(tmp_path, embedder, **{"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": "xoxb-test",
                                                   "SLACK_API_URL": "http://127.0.0.1:9/api/"})
    with TestClient(create_app(runtime=runtime)) as client:
        body = '{"type": "event_callback", "event": '
        response = client.post("/slack/events", content=body, headers={**signed(body),
                                                                        "content-type": "application/json"})
    assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json"


def test_jobs_survive_a_restart(tmp_path: Path, embedder: Embedder) -> None:
    """The state a kill -9 leaves (a job row still 'running', its file in uploads/) is finished at start-up."""
    runtime = _secure_runtime(tmp_path, embedder)
    with TestClient(create_app(runtime=runtime)):
        pass  # creates the tables
    folder = runtime.settings.storage.papers_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SMALL_PDF, folder / "crashed.pdf")
    from sqlmodel import Session

    with Session(runtime.engine) as session:
        session.add(JobRow(id="crashed-job", kind="upload", owner="o", status="running", attempts=1,
                           payload_json=json.dumps({"path": str(folder / "crashed.pdf"), "bytes": 1,
                                                    "filename": "n18.pdf"})))
        session.commit()
    with TestClient(create_app(runtime=runtime)) as client:
        state = _wait(client, "crashed-job", ADMIN)
    assert state["status"] == "done" and state["results"][0]["status"] == "added"
    assert runtime.catalog.paper_count() == 1


def test_a_generated_pdf_upload_is_searchable(secure: tuple[TestClient, Runtime], tmp_path: Path) -> None:
    client, _ = secure
    pdf = write_pdf(tmp_path / "mine.pdf", [[(72, 72, "Zebrafish fin regeneration depends on osteoblast "
                                                       "dedifferentiation after amputation.")]])
    state = _wait(client, _upload(client, A, pdf.read_bytes(), name="mine.pdf").json()["id"], A)
    assert state["status"] == "done"
    results = client.get("/v1/search", params={"q": "zebrafish fin regeneration", "k": 1}, headers=B).json()
    assert "Zebrafish" in results["results"][0]["text"]


# Second round: findings of a hostile review of the first fixes.

def test_a_deleted_conversation_leaves_nothing_for_the_next_one_with_its_id(secure) -> None:
    client, _ = secure
    client.post("/v1/conversations", json={"id": "team-notes"}, headers=A)
    client.post("/v1/conversations/team-notes/messages", headers=A,
                json={"content": "SECRET-ZEBRA-4471 literature graph entity linking"})
    assert client.delete("/v1/conversations/team-notes", headers=A).status_code == 204
    for key in (A, B):  # the same key, or another, starting a conversation under that id again
        follow_up = client.post("/v1/conversations/team-notes/messages", json={"content": "what about it?"},
                                headers=key).json()
        assert "SECRET-ZEBRA" not in json.dumps(follow_up["trace"])
        client.delete("/v1/conversations/team-notes", headers=key)


def test_conversation_ids_are_per_key(secure) -> None:
    client, _ = secure
    assert client.post("/v1/conversations", json={"id": "victim-next"}, headers=B).status_code == 201
    mine = client.post("/v1/conversations", json={"id": "victim-next"}, headers=A)  # not squatted, not probed
    assert mine.status_code == 201 and mine.json()["id"] == "victim-next"
    assert client.post("/v1/conversations", json={"id": "victim-next"}, headers=A).status_code == 409
    client.post("/v1/conversations/victim-next/messages", json={"content": "How is SPECTER trained?"}, headers=A)
    assert client.get("/v1/conversations/victim-next", headers=B).json()["messages"] == []


def test_a_valid_key_is_not_locked_out_by_someone_elses_guesses(tmp_path: Path, embedder: Embedder) -> None:
    runtime = _secure_runtime(tmp_path, embedder, auth_failures_per_minute=3)
    with TestClient(create_app(runtime=runtime)) as client:
        guesses = [client.get("/v1/papers", headers={"Authorization": f"Bearer g{i}"}).status_code for i in range(5)]
        assert guesses == [401, 401, 401, 429, 429]
        assert client.get("/v1/papers", headers=A).status_code == 200


def test_simultaneous_uploads_cannot_pass_the_quota(tmp_path: Path, embedder: Embedder) -> None:
    runtime = _secure_runtime(tmp_path, embedder, upload_quota_mb=1, max_pending_jobs=20)
    pdfs = []
    for i in range(6):  # distinct 400 kB PDFs: bytes after %%EOF are ignored by readers
        pdfs.append(tmp_path / f"p{i}.pdf")
        pdfs[-1].write_bytes(SMALL_PDF.read_bytes() + f"%{i}".encode() * 1 + b"%" * (400_000 - 174_773))
    size = pdfs[0].stat().st_size
    with running_server(create_app(runtime=runtime)) as url:
        def send(pdf: Path) -> int:
            return httpx.post(f"{url}/v1/papers", headers=A, timeout=60,
                              files={"file": (pdf.name, pdf.read_bytes(), "application/pdf")}).status_code

        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(send, pdfs))
    accepted = statuses.count(202)
    assert accepted * size <= 1024 * 1024 < (accepted + 1) * size and statuses.count(413) == 6 - accepted


def test_a_key_cannot_queue_without_limit(tmp_path: Path, embedder: Embedder) -> None:
    runtime = _secure_runtime(tmp_path, embedder, max_pending_jobs=2, arxiv_api_url="http://127.0.0.1:9/api/query",
                              arxiv_delay_seconds=5)
    with TestClient(create_app(runtime=runtime)) as client:
        statuses = [client.post("/v1/papers", json={"arxiv_id": f"2104.1225{i}"}, headers=A).status_code
                    for i in range(4)]
        assert statuses[:2] == [202, 202] and statuses[2:] == [429, 429]
        assert client.post("/v1/papers", json={"arxiv_id": "2104.12255"}, headers=B).status_code == 202


def test_upload_errors_name_the_clients_file_not_the_servers(secure) -> None:
    client, runtime = secure
    state = _wait(client, _upload(client, A, b"%PDF-1.4 garbage", name="mine.pdf").json()["id"], A)
    assert state["status"] == "failed" and "mine.pdf" in state["results"][0]["error"]
    assert str(runtime.settings.storage.home) not in json.dumps(state) and "uploads" not in json.dumps(state)


def test_a_job_run_again_after_a_crash_keeps_its_papers_file(secure) -> None:
    client, runtime = secure
    job = _wait(client, _upload(client, A, SMALL_PDF.read_bytes()).json()["id"], A)
    from sqlmodel import Session

    with Session(runtime.engine) as session:  # as if the server died before marking the job done
        row = session.get(JobRow, job["id"])
        row.status = "running"
        session.add(row)
        session.commit()
    client.app.state.services.jobs.start()
    again = _wait(client, job["id"], A)
    paper = runtime.catalog.find_paper(job["results"][0]["paper_id"])
    assert again["results"][0]["status"] == "unchanged" and Path(paper.path).is_file()


def test_json_to_the_upload_route_gets_the_json_cap(secure) -> None:
    client, _ = secure
    response = client.post("/v1/papers", content=b'{"arxiv_id": "' + b"1" * 200_000 + b'"}', headers={
        **A, "content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("body", ['{"model": "scisynth", "messages": [{"role": "user", "content": "\\ud800 graph"}]}',
                                  '{"arxiv_id": "२१०४.१२२५५"}'])
def test_odd_unicode_is_a_client_error(secure, body: str) -> None:
    client, _ = secure
    path = "/v1/chat/completions" if "messages" in body else "/v1/papers"
    response = client.post(path, content=body.encode(), headers={**A, "content-type": "application/json"})
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"


def test_static_files_ignore_byte_ranges_and_head_works(secure) -> None:
    client, _ = secure
    for rng in ("bytes=abc", "bytes=99999-"):
        response = client.get("/static/app.js", headers={"Range": rng})
        assert response.status_code == 200 and "safeUrl" in response.text
    assert client.head("/").status_code == 200


@pytest.mark.parametrize(("body", "headers", "status"), [
    ('{"a": ' + "[" * 50_000 + "]" * 50_000 + "}", {}, 401),  # deep JSON, unsigned: refused before parsing
    ("{}", {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}, 401),
    ("[1, 2, 3]", "signed", 400),
    ('{"type": "event_callback"}', "signed", 404),  # no event inside: nothing handles it
])
def test_slack_bodies_are_checked_before_they_are_parsed(tmp_path: Path, embedder: Embedder, body: str,
                                                         headers: dict | str, status: int) -> None:
    from tests.test_slack import SECRET, FakeSlack, signed

    fake = FakeSlack()
    runtime = make_runtime(tmp_path, embedder, **{"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": "xoxb-test",
                                                   "SLACK_API_URL": fake.url})
    with TestClient(create_app(runtime=runtime)) as client:
        sent = signed(body) if headers == "signed" else headers
        response = client.post("/slack/events", content=body, headers={**sent, "content-type": "application/json"})
    fake.httpd.shutdown()
    assert response.status_code == status
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"


def test_markdown_and_slack_replies_escape_paper_text() -> None:
    from api.answers import MARKDOWN, MRKDWN, format_result

    result = {"answer": "See ![x](http://evil.example/t.png) here [1]", "hypotheses": [], "provider": "llm:x",
              "citations": [{"n": 1, "paper_id": "p1", "title": "<!channel> [click](http://evil.example)",
                             "section": "S", "page": 1, "quote": "![img](http://evil.example/q.png)",
                             "url": "https://arxiv.org/abs/2104.12255"}]}
    turn = TurnResult.model_validate(result)
    markdown, slack = format_result(turn, MARKDOWN), format_result(turn, MRKDWN)
    assert "![" not in markdown  # no image a client would fetch
    assert "\\[click\\]\\(http://evil.example\\)" in markdown  # a title cannot become a link
    assert "<!channel>" not in slack and "&lt;!channel&gt;" in slack
