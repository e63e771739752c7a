"""Security regressions of the second adversarial round (issue 37): BibTeX/RIS import, Zotero sync, watches and
digests, export, Slack, streaming and slow clients. Each test reproduces a finding and fails without its fix."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bibtexparser
import httpx
import pytest
import rispy
from fastapi.testclient import TestClient

import tools.bibliography
from agent.importing import BibliographyImporter
from agent.runtime import Runtime
from agent.watch import watch_runner
from agent.zotero_sync import zotero_sync
from api.app import create_app
from api.server import guarded_protocol, trusted
from api.streaming import TurnWorkers
from retrieval.embeddings import Embedder
from retrieval.ingest import IngestResult
from service.watches import WatchService
from store.jobs import JobQueue, JobRow
from store.keys import key_hash
from store.watches import MAX_WATCHES_PER_OWNER, DigestRow, WatchStore
from tests.conftest import PAPERS, make_runtime, running_server
from tests.isolation_probe import allocate, sleep_for
from tests.zotero_server import USER, ZoteroServer
from tools.bibliography import MAX_ENTRIES, MAX_FIELD_CHARS, BibliographyError, read_bibliography
from tools.citation_export import ExportPaper, export
from tools.isolation import IsolationError, ParseLimits, run_isolated
from tools.pdf import parse_pdf
from tools.zotero import ZoteroLibrary

KEYS = "admin-key:admin,key-a:member,key-b:member,key-r:reader"
ADMIN, A, B, READER = ({"Authorization": f"Bearer {k}"} for k in ("admin-key", "key-a", "key-b", "key-r"))
OWNER_A, OWNER_B = key_hash("key-a")[:16], key_hash("key-b")[:16]
SPECTER = PAPERS / "acl_2020.acl-main.207.pdf"


def _runtime(home: Path, embedder: Embedder, **settings: object) -> Runtime:
    return make_runtime(home, embedder, api_keys=KEYS, rate_limit_per_minute=10_000, **settings)


@pytest.fixture
def secure(tmp_path: Path, embedder: Embedder) -> Iterator[tuple[TestClient, Runtime]]:
    runtime = _runtime(tmp_path, embedder)
    with TestClient(create_app(runtime=runtime)) as client:
        yield client, runtime
    runtime.engine.dispose()


def _job(client: TestClient, response: httpx.Response, headers: dict) -> dict:
    assert response.status_code == 202, response.text
    for _ in range(600):
        state = client.get(f"/v1/jobs/{response.json()['id']}", headers=headers).json()
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"job did not finish: {state}")


def _bib(title: str, authors: str, doi: str | None = None, key: str = "k") -> bytes:
    doi_field = f", doi = {{{doi}}}" if doi else ""
    return f"@article{{{key}, title = {{{title}}}, author = {{{authors}}}, year = {{2020}}{doi_field}}}\n".encode()


# --- HIGH: untrusted files are parsed in a bounded child process, never in the request ------------------------------

def test_a_reader_past_its_deadline_or_memory_is_stopped_with_a_reason() -> None:
    assert run_isolated(sleep_for, ParseLimits(30, 512), "quick.bib", 0.01) == "done"
    with pytest.raises(IsolationError, match=r"slow.bib took longer than 1 s"):
        run_isolated(sleep_for, ParseLimits(1, 512), "slow.bib", 30)
    with pytest.raises(IsolationError, match=r"huge.pdf needed more than 400 MB"):
        run_isolated(allocate, ParseLimits(30, 400), "huge.pdf", 1024)


def test_a_megabyte_latex_field_is_cut_before_decoding(tmp_path: Path) -> None:
    """pylatexenc's decoding is super-linear in a field's length (1 MB: 16 s, 5 MB: 315 s): no field reaches it
    longer than MAX_FIELD_CHARS."""
    path = tmp_path / "long.bib"
    path.write_text("@article{k, title={A real title}, abstract={" + "\\'e word " * 120_000 + "}}")
    [record], skipped = read_bibliography(path)
    assert not skipped and len(record.abstract) <= MAX_FIELD_CHARS and "é word" in record.abstract
    assert record.note == f"abstract cut to {MAX_FIELD_CHARS:,} characters"


def test_the_entry_cap_counts_entries_however_they_are_written(tmp_path: Path) -> None:
    path = tmp_path / "one-line.bib"  # every entry on one line: no line starts with "@"
    path.write_text("x " + "".join(f"@misc{{k{i}, title={{Title {i}}}}}" for i in range(MAX_ENTRIES + 1)))
    with pytest.raises(BibliographyError, match=f"{MAX_ENTRIES + 1:,} entries"):
        read_bibliography(path)


def test_an_import_is_parsed_by_its_job_not_by_the_request(secure: tuple[TestClient, Runtime],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    client, _runtime = secure

    def in_this_process(*_args: object) -> None:
        raise AssertionError("the request parsed the BibTeX entries")

    monkeypatch.setattr(tools.bibliography, "read_bibtex", in_this_process)  # the child process has its own copy
    response = client.post("/v1/papers/import", files={"file": ("lib.bib", _bib("A study of gait", "Doe, Jane"))},
                           headers=A)
    state = _job(client, response, A)
    assert state["status"] == "done" and [r["status"] for r in state["results"]] == ["added"]


def test_an_import_past_the_parse_deadline_fails_with_a_reason(tmp_path: Path, embedder: Embedder) -> None:
    runtime = _runtime(tmp_path, embedder, parse_seconds=0.3)
    accented = "\\'e x " * 600  # LaTeX to decode: seconds of work for 2,000 entries
    entries = "".join(f"@article{{k{i}, title={{Study {i}}}, abstract={{{accented}}}}}\n" for i in range(2000))
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post("/v1/papers/import", files={"file": ("lib.bib", entries.encode())}, headers=A)
        state = _job(client, response, A)
    assert state["status"] == "failed" and "took longer than 0.3 s" in state["error"], state
    assert runtime.catalog.paper_count() == 0


def test_the_job_worker_serves_keys_in_turn(tmp_path: Path, embedder: Embedder) -> None:
    """One key's full queue does not hold the worker while another key's job waits behind it."""
    runtime = make_runtime(tmp_path, embedder)
    order: list[str] = []

    def record(job: JobRow) -> list[IngestResult]:
        order.append(job.payload["name"])
        return [IngestResult(job.payload["name"], "added")]

    jobs = JobQueue(runtime.engine, {"arxiv": record})
    for name in ("a1", "a2", "a3"):
        jobs.submit("arxiv", {"name": name}, owner="key-a")
    jobs.submit("arxiv", {"name": "b1"}, owner="key-b")
    jobs.shutdown(finish_queued=True)
    assert order == ["a1", "b1", "a2", "a3"]


def test_the_whole_job_queue_is_bounded(tmp_path: Path, embedder: Embedder) -> None:
    runtime = _runtime(tmp_path, embedder, max_queued_jobs=1)
    with TestClient(create_app(runtime=runtime)) as client:
        client.app.state.services.jobs.shutdown()  # nothing runs: the first job stays queued
        client.app.state.services.jobs.submit("arxiv", {"arxiv_id": "2104.12255"}, owner=OWNER_A)
        refused = client.post("/v1/papers", json={"arxiv_id": "2104.12255"}, headers=B)
    assert refused.status_code == 503 and "queue is full" in refused.json()["detail"]


# --- MED: a reference never keeps out or takes over another key's paper ---------------------------------------------

def test_another_keys_reference_does_not_keep_an_upload_out(secure: tuple[TestClient, Runtime]) -> None:
    client, runtime = secure
    parsed = parse_pdf(SPECTER)
    squat = _bib(parsed.title, " and ".join(parsed.authors[:2]), key="squat")
    assert _job(client, client.post("/v1/papers/import", files={"file": ("s.bib", squat)}, headers=A),
                A)["results"][0]["status"] == "added"
    upload = _job(client, client.post("/v1/papers", files={"file": ("specter.pdf", SPECTER.read_bytes(),
                                                                     "application/pdf")}, headers=B), B)
    [result] = upload["results"]
    assert result["status"] == "added" and result["chunks"] > 10  # the full text, not "unchanged"
    full_text = runtime.catalog.find_paper(result["paper_id"])
    assert full_text.added_by == OWNER_B and full_text.source == "pdf"
    reference = [p for p in runtime.catalog.papers() if p.source == "bibliography"]
    assert [p.added_by for p in reference] == [OWNER_A]  # A's reference stays A's


def test_a_keys_own_reference_gives_way_to_its_upload(secure: tuple[TestClient, Runtime]) -> None:
    client, runtime = secure
    parsed = parse_pdf(SPECTER)
    mine = _bib(parsed.title, " and ".join(parsed.authors[:2]), key="mine")
    _job(client, client.post("/v1/papers/import", files={"file": ("m.bib", mine)}, headers=A), A)
    [result] = _job(client, client.post("/v1/papers", files={"file": ("specter.pdf", SPECTER.read_bytes(),
                                                                        "application/pdf")}, headers=A), A)["results"]
    assert result["status"] == "added"
    assert [(p.source, p.added_by) for p in runtime.catalog.papers()] == [("pdf", OWNER_A)]


GAIT_DOI = "10.1186/1743-0003-11-1"
GAIT = {"itemType": "journalArticle", "title": "Gait kinematics after stroke: a study of twenty adults",
        "creators": [{"creatorType": "author", "firstName": "Jane", "lastName": "Doe"}], "date": "2019",
        "DOI": GAIT_DOI, "collections": []}


@pytest.fixture
def zotero() -> Iterator[ZoteroServer]:
    with ZoteroServer() as server:
        yield server


def test_a_zotero_sync_never_deletes_another_keys_reference(tmp_path: Path, embedder: Embedder,
                                                            zotero: ZoteroServer) -> None:
    runtime = _runtime(tmp_path, embedder, **{"ZOTERO_API_KEY": zotero.api_key, "ZOTERO_API_URL": zotero.base})
    importer = BibliographyImporter(runtime.catalog, runtime.ingestor, None)
    (tmp_path / "a.bib").write_bytes(_bib(GAIT["title"], "Doe, Jane", GAIT_DOI))
    [kept] = importer.import_file(tmp_path / "a.bib", added_by=OWNER_A).results
    item = zotero.put(GAIT)
    zotero.put({"itemType": "attachment", "parentItem": item, "linkMode": "imported_file",
                "contentType": "application/pdf", "title": "PDF"}, file=SPECTER.read_bytes())
    report = zotero_sync(runtime).sync(ZoteroLibrary.parse(f"user:{USER}"), added_by=OWNER_B)
    assert [r.status for r in report.results] == ["added"]
    assert runtime.catalog.find_paper(kept.paper_id).added_by == OWNER_A  # still there, still A's
    stored = runtime.catalog.find_paper(report.results[0].paper_id)
    assert stored.added_by == OWNER_B and f"zotero/users/{USER}/" in stored.path  # a folder per library
    # The item deleted in Zotero: B's sync removes B's paper, never A's reference.
    zotero.delete(item)
    again = zotero_sync(runtime).sync(ZoteroLibrary.parse(f"user:{USER}"), added_by=OWNER_A)
    assert again.removed == [] and runtime.catalog.find_paper(stored.paper_id) is not None


def test_members_sync_only_the_libraries_the_operator_lists(tmp_path: Path, embedder: Embedder,
                                                            zotero: ZoteroServer) -> None:
    runtime = _runtime(tmp_path, embedder, **{"ZOTERO_API_KEY": zotero.api_key, "ZOTERO_API_URL": zotero.base,
                                              "ZOTERO_LIBRARIES": "group:42"})
    with TestClient(create_app(runtime=runtime)) as client:
        client.app.state.services.jobs.shutdown()
        refused = client.post("/v1/zotero/sync", json={"library": f"user:{USER}"}, headers=A)
        assert refused.status_code == 403 and "ZOTERO_LIBRARIES" in refused.json()["detail"]
        assert client.post("/v1/zotero/sync", json={"library": "group:42"}, headers=A).status_code == 202
        assert client.post("/v1/zotero/sync", json={"library": f"user:{USER}"}, headers=ADMIN).status_code == 202


def test_zotero_error_bodies_are_not_relayed(tmp_path: Path, embedder: Embedder, zotero: ZoteroServer) -> None:
    from tests.zotero_server import Fault

    runtime = _runtime(tmp_path, embedder, **{"ZOTERO_API_KEY": zotero.api_key, "ZOTERO_API_URL": zotero.base})
    zotero.faults = [Fault(500, {"Content-Type": "text/html"})]
    zotero.put(GAIT)
    with TestClient(create_app(runtime=runtime)) as client:
        state = _job(client, client.post("/v1/zotero/sync", json={"library": f"user:{USER}"}, headers=ADMIN), ADMIN)
    assert state["status"] == "failed" and "HTTP 500" in state["error"] and "busy" not in state["error"]


# --- MED: exports escape what they write ---------------------------------------------------------------------------

def test_a_crafted_doi_cannot_inject_bibtex_fields_or_ris_tags() -> None:
    hostile = ExportPaper("doi:x", "A title\nTY  - JOUR\nTI  - Injected", ("Doe, Jane",), 2020,
                          "10.1234/x},\n  author = {Mallory} % \\input{/etc/passwd}", "not-an-id")
    library = bibtexparser.parse_string(export([hostile], "bibtex"))
    [entry] = library.entries
    assert entry["doi"] == "10.1234/x" and entry["author"] == "Doe, Jane" and "eprint" not in entry.fields_dict
    assert not library.failed_blocks
    [record] = rispy.loads(export([hostile], "ris"))
    assert record["title"] == "A title TY - JOUR TI - Injected" and record["doi"] == "10.1234/x"
    assert json.loads(export([hostile], "csl-json"))[0]["DOI"] == "10.1234/x"


# --- MED: slow clients cannot hold the service's connections ---------------------------------------------------------

def _serve_guarded(runtime: Runtime, per_client: int = 100):
    app = create_app(runtime=runtime)
    return running_server(app, http=guarded_protocol(1.0, per_client, trusted([])))


def _closed(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False


def test_a_slow_header_is_cut_off_and_one_address_holds_few_connections(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder)
    with _serve_guarded(runtime, per_client=3) as base:
        port = int(base.rsplit(":", 1)[1])
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the header never ends
        assert _closed(slow, within=5)
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        extra = socket.create_connection(("127.0.0.1", port))
        assert _closed(extra, within=0.5)  # a fourth from the same address is closed at once
        for sock in held:
            sock.close()
        # A request that sends its header in time is served (and its keep-alive connection stays usable).
        with httpx.Client(base_url=base) as client:
            assert client.get("/healthz").status_code == 200
            time.sleep(0.5)
            assert client.get("/healthz").status_code == 200


def test_a_body_that_stops_arriving_gets_408(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder, body_timeout_seconds=1)
    with running_server(create_app(runtime=runtime)) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /v1/conversations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"title\": ")
            sock.settimeout(10)
            assert sock.recv(4096).startswith(b"HTTP/1.1 408")


# --- MED: watches and digests are private, and scheduled runs are their owner's jobs ---------------------------------

def test_watches_and_digests_are_private_to_their_key(secure: tuple[TestClient, Runtime]) -> None:
    client, _runtime = secure
    body = {"name": "lab secrets", "query": "graph neural network", "questions": ["What is our next paper?"]}
    watch = client.post("/v1/watches", json=body, headers=A).json()
    store = client.app.state.services.watches.store
    store.finish(store.get(watch["id"]), "new papers", DigestRow(watch_id=watch["id"], watch_name="lab secrets",
                                                                 owner=OWNER_A, status="new papers"), [])
    for headers, sees in ((A, True), (B, False), (READER, False), (ADMIN, True)):
        watches = client.get("/v1/watches", headers=headers).json()["watches"]
        digests = client.get("/v1/digests", headers=headers).json()["digests"]
        assert [w["name"] for w in watches] == (["lab secrets"] if sees else [])
        assert [d["watch_name"] for d in digests] == (["lab secrets"] if sees else [])
    assert client.get("/v1/digests", params={"watch_id": watch["id"]}, headers=B).json()["digests"] == []


def test_a_scheduled_watch_runs_as_its_owner_within_its_job_limit(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder)
    watches = WatchService(watch_runner(runtime), JobQueue(runtime.engine, {}))
    store, jobs = watches.store, watches.jobs
    watch = store.add("w", "all:graph", owner=OWNER_A)
    [job] = watches.queue_due(max_pending_jobs=2)
    assert job.owner == OWNER_A and job.kind == "watch"
    store.postpone(watch.id, -timedelta(minutes=1))  # due again
    jobs.submit("arxiv", {}, owner=OWNER_A)  # the owner's queue is now full (2)
    assert watches.queue_due(max_pending_jobs=2) == []
    assert store.get(watch.id).next_run_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(minutes=10)


def test_the_watch_cap_holds_when_keys_add_at_once(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder)
    store = WatchStore(runtime.engine)
    for i in range(MAX_WATCHES_PER_OWNER - 2):
        store.add(f"w{i}", "all:graph", owner=OWNER_A)

    def add(i: int) -> bool:
        try:
            store.add(f"race{i}", "all:graph", owner=OWNER_A)
            return True
        except Exception:
            return False

    with ThreadPoolExecutor(8) as pool:
        added = sum(pool.map(add, range(8)))
    assert len(store.saved(OWNER_A)) == MAX_WATCHES_PER_OWNER and added == 2


# --- LOW: Slack, streaming, Markdown clients, control characters -----------------------------------------------------

def _slack_app(tmp_path: Path, embedder: Embedder):
    from tests.slack_server import FakeSlack
    from tests.test_slack import SECRET

    fake = FakeSlack()
    runtime = make_runtime(tmp_path, embedder, **{"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": "xoxb-test",
                                                   "SLACK_API_URL": fake.url})
    return fake, runtime


def test_a_replayed_slash_command_runs_once(tmp_path: Path, embedder: Embedder) -> None:
    from urllib.parse import urlencode

    from tests.test_slack import signed

    fake, runtime = _slack_app(tmp_path, embedder)
    body = urlencode({"command": "/scisynth", "text": "papers", "channel_id": "C1", "user_id": "U1",
                      "response_url": f"{fake.url}response", "trigger_id": "t", "team_id": "T1"})
    headers = {**signed(body), "content-type": "application/x-www-form-urlencoded"}
    with TestClient(create_app(runtime=runtime)) as client:
        first = client.post("/slack/events", content=body, headers=headers)
        replay = client.post("/slack/events", content=body, headers=headers)
        time.sleep(1)
    fake.httpd.shutdown()
    assert first.status_code == 200 and "Working" in first.text
    assert replay.status_code == 200 and replay.text == ""


@pytest.mark.parametrize("body", [b"\xff\xfe not utf-8", "caf\u00e9".encode("latin-1")])
def test_a_slack_body_that_is_not_utf8_is_unsigned_not_a_crash(tmp_path: Path, embedder: Embedder,
                                                             body: bytes) -> None:
    fake, runtime = _slack_app(tmp_path, embedder)
    headers = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64,
               "content-type": "application/json"}
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post("/slack/events", content=body, headers=headers)
    fake.httpd.shutdown()
    assert response.status_code == 401


def test_streamed_turns_are_capped(tmp_path: Path, embedder: Embedder) -> None:
    release = threading.Event()
    workers = TurnWorkers(max_running=1)
    workers.start(release.wait)
    runtime = make_runtime(tmp_path, embedder)
    with TestClient(create_app(runtime=runtime)) as client:
        client.app.state.workers = workers
        response = client.post("/v1/chat/completions", json={"model": "scisynth", "stream": True,
                                                              "messages": [{"role": "user", "content": "a question"}]})
        conversation = client.post("/v1/conversations").json()["id"]
        streamed = client.post(f"/v1/conversations/{conversation}/messages", json={"content": "a question"},
                               headers={"accept": "text/event-stream"})
    release.set()
    assert response.status_code == 503 and streamed.status_code == 503
    assert "Retry-After" in response.headers


HOSTILE = ("We show that gradient clipping stabilises the training of deep recurrent networks <img src=x "
           "onerror=alert(1)>. In our experiments on language modelling, clipping the gradient norm at 1.0 removed "
           "loss spikes, as shown in [the paper](javascript:alert(1)) and ![tracker](https://evil.example/t.png). "
           "Training without clipping diverged in 4 of 10 runs.")


def test_openai_clients_get_inert_markdown_from_hostile_papers(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder)
    record = {"id": "hostile-1", "title": "Gradient clipping\x00 stabilises training of deep networks",
              "abstract": HOSTILE}
    (tmp_path / "hostile.jsonl").write_text(json.dumps(record) + "\n")
    runtime.ingestor.ingest_paths([tmp_path / "hostile.jsonl"])
    stored = runtime.catalog.find_paper("hostile-1").title
    assert stored == "Gradient clipping stabilises training of deep networks"  # no NUL
    ask = {"model": "scisynth", "messages": [{"role": "user", "content": "Does gradient clipping stabilise "
                                                                         "training?"}]}
    with TestClient(create_app(runtime=runtime)) as client:
        whole = client.post("/v1/chat/completions", json=ask).json()["choices"][0]["message"]["content"]
        lines = client.post("/v1/chat/completions", json={**ask, "stream": True}).text.splitlines()
    streamed = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content", "")
                       for line in lines if line.startswith("data: {"))
    for text in (whole, streamed):
        assert "gradient clipping stabilises the training" in text  # the answer is there
        # nothing a Markdown client renders as HTML, a link or an image (a backslash-escaped character is text)
        assert not re.search(r"(?<!\\)<img|(?<!\\)\]\(javascript|!\[", text), text


def test_control_characters_never_reach_the_catalog(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder)
    (tmp_path / "nul.bib").write_text("@article{k, title={Null\x00 bytes\x07 in a title}, author={Doe, J\x00ane}, "
                                      "abstract={Text with a bell\x07 and a NUL\x00.}}")
    [result] = BibliographyImporter(runtime.catalog, runtime.ingestor, None).import_file(tmp_path / "nul.bib").results
    paper = runtime.catalog.find_paper(result.paper_id)
    assert paper.title == "Null bytes in a title" and paper.authors == ["Jane Doe"]
    assert "\x00" not in runtime.catalog.paper_text(result.paper_id)


def test_an_attachment_whose_title_differs_says_so(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder)
    (tmp_path / "wrong.bib").write_text(f"@article{{k, title={{Bananas in the tropics}}, author={{Doe, Jane}}, "
                                        f"file={{PDF:{SPECTER}:application/pdf}}}}")
    [result] = BibliographyImporter(runtime.catalog, runtime.ingestor, None).import_file(tmp_path / "wrong.bib").results
    assert result.status == "added" and "SPECTER" in result.error and "kept the entry's title" in result.error
