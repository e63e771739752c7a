"""Literature watches against the arXiv replay server (real recorded Atom feeds, cut to the papers "published
so far") and a Slack-like server on 127.0.0.1: new papers only, one digest per run with news, failures said once,
one replica per due watch, the API, and the service's scheduler."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlmodel import Session

from agent.runtime import Runtime
from agent.watch import watch_query, watch_runner
from api.app import create_app
from api.slack_watch import slack_delivery
from service.watches import WatchService
from store.jobs import JobQueue, JobRow
from store.watches import WatchError, WatchStore, digest_text
from tests.arxiv_replay import Fault, ReplayServer
from tests.conftest import make_runtime, running_server
from tests.slack_server import FakeSlack
from tests.test_web import ARGS, ARTIFACTS, CHROMIUM

QUERY = "testing"
QUESTION = "How are test cases generated automatically?"


def _feed(server: ReplayServer, count: int) -> None:
    """The recorded "testing" search cut to its first `count` entries (as if the rest were not out yet); a watch
    asks for 10."""
    body = server.original[("q", QUERY, "0", "10")][1].decode()
    head, *entries = re.split(r"(?=<entry>)", body)
    kept = [re.sub(r"</feed>\s*$", "", entry) for entry in entries[:count]]
    head = re.sub(r"(<opensearch:totalResults[^>]*>)\d+", rf"\g<1>{count}", head)  # no further pages
    server.responses[("q", QUERY, "0", "10")] = (200, (head + "".join(kept) + "</feed>\n").encode())


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        replay.original = dict(replay.responses)
        yield replay


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.httpd.shutdown()


def _runtime(home: Path, embedder, server: ReplayServer, slack: FakeSlack, **settings: object) -> Runtime:
    runtime = make_runtime(home, embedder, arxiv_api_url=f"{server.base}/api/query",
                           arxiv_pdf_url=f"{server.base}/pdf/", arxiv_delay_seconds=0, allowed_fetch_hosts=server.base,
                           **{"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": slack.url,
                              "SLACK_WATCH_CHANNEL": "C0WATCH"}, **settings)
    runtime.arxiv._client.attempts = 1  # a failing arXiv fails the run at once (the watch retries it later)
    return runtime


def test_queries_are_checked() -> None:
    assert watch_query("dense retrieval", ["cs.IR", "cs.CL"]) == "dense retrieval AND (cat:cs.IR OR cat:cs.CL)"
    for bad, message in [(("", []), "give search words"), (("x", ["cs CL"]), "not an arXiv category")]:
        with pytest.raises(WatchError, match=message):
            watch_query(*bad)


def test_a_watch_reports_new_papers_once_and_says_when_arxiv_fails(tmp_path: Path, embedder, server: ReplayServer,
                                                                    slack: FakeSlack) -> None:
    runtime = _runtime(tmp_path / "home", embedder, server, slack)
    runner = watch_runner(runtime, slack_delivery(runtime.settings))
    watch = runner.store.add("software testing", watch_query(QUERY), [QUESTION], max_results=10, with_pdf=False)
    _feed(server, 4)
    first = runner.run(watch.id)
    assert first.status == "new papers" and [r.status for r in first.results] == ["added"] * 4
    entries = first.digest.entries
    assert len(entries) == 4 and all(e["summary"] and e["summary"]["text"] for e in entries)
    for entry in entries:  # every summary is a sentence of the paper's own abstract
        assert entry["summary"]["text"] in runtime.catalog.paper_text(entry["paper_id"])
    addressed = [b for e in entries for b in e["bearings"] if b["addresses"]]
    assert addressed and all(b["quote"]["text"] for b in addressed)
    posted = slack.wait_for("chat.postMessage", 1)
    assert posted[0]["channel"] == "C0WATCH" and entries[0]["title"][:30] in posted[0]["text"]
    assert first.digest.delivery == "posted"

    assert runner.run(watch.id).status == "nothing new"  # the same feed again: no digest, nothing posted
    _feed(server, 7)
    third = runner.run(watch.id)
    assert [e["arxiv_id"] for e in third.digest.entries] == [e["arxiv_id"] for e in
                                                             _entries_after(first.digest.entries, server)]
    assert len(slack.of("chat.postMessage")) == 2

    server.faults = [Fault(503)] * 10
    failed = runner.run(watch.id)
    assert failed.status == "failed" and "arXiv could not be searched" in failed.digest.error
    assert runner.run(watch.id).digest is None  # a streak of failures is said once
    server.faults = []
    _feed(server, 9)
    recovered = runner.run(watch.id)
    assert len(recovered.digest.entries) == 2  # nothing published while arXiv was down is missed
    assert [d.status for d in runner.store.digests(watch.id)] == ["new papers", "failed", "new papers", "new papers"]
    assert len(slack.of("chat.postMessage")) == 4
    text = digest_text(first.digest)  # the text Slack and the CLI show: every paper, its summary, the question
    assert all(e["title"] in text and e["summary"]["text"] in text for e in entries) and f"Q: {QUESTION}" in text


def _entries_after(reported: list[dict], server: ReplayServer) -> list[dict]:
    """The 5th to 7th papers of the feed: what the third run should report."""
    ids = re.findall(r"<id>http://arxiv.org/abs/([^<]+?)(?:v\d+)?</id>", server.responses[("q", QUERY, "0", "10")][1]
                     .decode())
    return [{"arxiv_id": arxiv_id} for arxiv_id in ids[len(reported):]]


def test_of_two_replicas_claiming_a_due_watch_exactly_one_runs_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    replicas = [WatchStore(create_engine(url)) for _ in range(2)]
    ids = [replicas[0].add(f"w{i}", watch_query(f"topic {i}")).id for i in range(20)]
    won: list[list[str]] = [[], []]
    start = threading.Barrier(2)

    def claim(n: int) -> None:
        start.wait()
        won[n] = replicas[n].claim_due()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won[0] + won[1]) == sorted(ids)  # every watch claimed, none twice
    assert replicas[0].claim_due() == [] and replicas[1].claim_due() == []  # and not due again before a day


def test_watches_over_http_and_the_scheduler(tmp_path: Path, embedder, server: ReplayServer, slack: FakeSlack) -> None:
    runtime = _runtime(tmp_path / "home", embedder, server, slack, watch_check_seconds=0.5)
    _feed(server, 3)
    with TestClient(create_app(runtime=runtime)) as client:
        refused = client.post("/v1/watches", json={"name": "x", "categories": ["not a category"]})
        assert refused.status_code == 422 and "not an arXiv category" in refused.json()["detail"]
        saved = client.post("/v1/watches", json={"name": "software testing", "query": QUERY, "max_results": 10,
                                                 "questions": [QUESTION], "with_pdf": False})
        assert saved.status_code == 201, saved.text
        watch = saved.json()
        assert client.get("/v1/watches").json()["watches"][0]["id"] == watch["id"]
        # The service's scheduler finds the new watch due and runs it as a job.
        # A digest is stored before it is posted: wait until its delivery is settled, whatever the outcome.
        digests = _wait(lambda: [d for d in client.get("/v1/digests").json()["digests"]
                                 if d["delivery"] != "not sent yet"])
        assert digests[0]["watch_id"] == watch["id"] and len(digests[0]["entries"]) == 3
        assert digests[0]["delivery"] == "posted" and QUESTION in digests[0]["text"]
        _feed(server, 5)
        job = client.post(f"/v1/watches/{watch['id']}/run")
        assert job.status_code == 202
        done = _wait(lambda: (state := client.get(f"/v1/jobs/{job.json()['id']}").json())["status"] == "done"
                     and state)
        assert [r["status"] for r in done["results"]] == ["added"] * 2
        assert len(client.get("/v1/digests", params={"watch_id": watch["id"]}).json()["digests"]) == 2
        assert client.post("/v1/watches/nope/run").status_code == 404
        assert client.delete(f"/v1/watches/{watch['id']}").status_code == 204
        assert client.get("/v1/watches").json()["watches"] == []
        assert len(client.get("/v1/digests").json()["digests"]) == 2  # digests outlive their watch


def _wait(probe, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_the_web_page_lists_digests_and_saves_a_watch(tmp_path: Path, embedder, server: ReplayServer,
                                                      slack: FakeSlack) -> None:
    from playwright.sync_api import expect, sync_playwright

    runtime = _runtime(tmp_path / "home", embedder, server, slack, watch_check_seconds=0)
    runner = watch_runner(runtime)
    watch = runner.store.add("software testing", watch_query(QUERY), [QUESTION], max_results=10, with_pdf=False)
    _feed(server, 3)
    digest = runner.run(watch.id).digest
    server.faults = [Fault(503)]
    runner.run(watch.id)
    with running_server(create_app(runtime=runtime)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.click("#tab-watches")
        cards = page.locator(".digest")
        expect(cards).to_have_count(2)
        expect(cards.first).to_contain_text("arXiv could not be searched")  # newest first
        papers = cards.nth(1).locator("li")
        expect(papers).to_have_count(3)
        first = digest.entries[0]
        expect(papers.first.locator("a")).to_have_text(first["title"])
        expect(papers.first.locator(".quote q")).to_have_text(first["summary"]["text"])
        expect(papers.first.locator(".bearing")).to_contain_text(f"Q: {QUESTION}")
        page.fill("#watch-name", "graph retrieval")
        page.fill("#watch-query", "graph neural retrieval")
        page.fill("#watch-categories", "cs.IR cs.CL")
        page.click("#watch-form button[type=submit]")
        expect(page.locator("#watches")).to_contain_text("(cat:cs.IR OR cat:cs.CL)")
        page.fill("#watch-name", "broken")
        page.fill("#watch-categories", "not-a category!")
        page.click("#watch-form button[type=submit]")
        expect(page.locator("#watch-status")).to_contain_text("not an arXiv category")
        page.screenshot(path=str(ARTIFACTS / "watches.png"), full_page=True)
        browser.close()


def test_runs_never_overlap_and_refused_queries_are_not_retried_hourly(tmp_path: Path, embedder,
                                                                      server: ReplayServer, slack: FakeSlack) -> None:
    assert watch_query("", title='say "hi" there') == 'ti:"say hi there"'  # quotes would break arXiv's syntax
    runtime = _runtime(tmp_path / "home", embedder, server, slack)
    runner = watch_runner(runtime, slack_delivery(runtime.settings))
    watch = runner.store.add("software testing", watch_query(QUERY), max_results=10, with_pdf=False)
    _feed(server, 2)
    # A run is a job (subject "watch:ID"): asked again while it waits, it is the same run; a second job of the same
    # subject (two replicas queueing at once) waits while the first runs under its lease.
    holding, release = threading.Event(), threading.Event()

    def held(_job: JobRow) -> list:
        holding.set()
        release.wait(30)
        return []

    jobs = JobQueue(runtime.engine, {"watch": held}, worker="replica-1")
    watches = WatchService(runner, jobs)
    first = watches.queue_run(watch.id, "")
    assert watches.queue_run(watch.id, "").id == first.id
    running = threading.Thread(target=jobs.run_now, args=(first.id,))
    running.start()
    assert holding.wait(30)
    with Session(runtime.engine, expire_on_commit=False) as session:
        racer = JobRow(kind="watch", owner="", subject=f"watch:{watch.id}", payload_json=json.dumps(
            {"watch_id": watch.id}))
        session.add(racer)
        session.commit()
    assert JobQueue(runtime.engine, {"watch": held}, worker="replica-2").run_now(racer.id) is None
    release.set()
    running.join(30)

    ingest = runner.fetcher.ingest

    def removed_meanwhile(*args, **kwargs):
        runner.store.remove(watch.id)
        return ingest(*args, **kwargs)

    runner.fetcher.ingest = removed_meanwhile
    assert runner.run(watch.id).digest is None and slack.of("chat.postMessage") == []  # nothing posted for it
    runner.fetcher.ingest = ingest

    refused = runner.store.add("bad syntax", "ti:(unbalanced", max_results=10)
    server.faults = [Fault(400, b"malformed query")]
    failed = runner.run(refused.id)
    assert "refused this watch's query" in failed.digest.error and "edit or remove" in failed.digest.error
    next_run = runner.store.get(refused.id).next_run_at
    assert (next_run.replace(tzinfo=None) - failed.digest.created_at.replace(tzinfo=None)).total_seconds() > 20 * 3600
    for n in range(19):  # with "bad syntax", twenty
        runner.store.add(f"w{n}", watch_query(f"topic {n}"))
    with pytest.raises(WatchError, match="at most 20 watches"):
        runner.store.add("one too many", watch_query("more"))
