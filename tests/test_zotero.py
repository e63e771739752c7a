"""Zotero sync against a Zotero Web API v3 server on 127.0.0.1 (tests/zotero_server.py): items and their PDF
attachments in, only changes on the next sync (304 when nothing changed), a PDF attached later upgrading the
reference, deletions, Zotero's 429/Backoff, a wrong key; arXiv items through the arXiv replay server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import tools.zotero
from agent.zotero_sync import zotero_sync
from api.app import create_app
from tests.arxiv_replay import ReplayServer
from tests.conftest import PAPERS, ROOT, finished_job, make_runtime
from tests.zotero_server import USER, Fault, ZoteroServer
from tools.zotero import ZoteroError, ZoteroLibrary

LIBRARY = ZoteroLibrary.parse(f"user:{USER}")
S2ORC = {"itemType": "conferencePaper", "title": "S2ORC: The Semantic Scholar Open Research Corpus",
         "creators": [{"creatorType": "author", "firstName": "Kyle", "lastName": "Lo"},
                      {"creatorType": "author", "firstName": "Lucy Lu", "lastName": "Wang"}],
         "date": "2020-07", "DOI": "10.18653/v1/2020.acl-main.447", "proceedingsTitle": "Proceedings of ACL",
         "collections": ["READING1"]}
GRAPH = {"itemType": "preprint", "title": "Construction of the Literature Graph in Semantic Scholar",
         "creators": [{"creatorType": "author", "firstName": "Waleed", "lastName": "Ammar"}], "date": "2018",
         "archiveID": "arXiv:1605.08386", "repository": "arXiv", "collections": []}
GAIT = {"itemType": "journalArticle", "title": "Gait kinematics after stroke: a study of twenty adults",
        "creators": [{"creatorType": "author", "name": "Stroke Research Group"}], "date": "2019",
        "abstractNote": "Stroke survivors walked slower and with shorter strides than matched controls.",
        "publicationTitle": "J. Neuroeng. Rehabil.", "collections": ["READING1"]}


def _attachment(parent: str) -> dict:
    return {"itemType": "attachment", "parentItem": parent, "linkMode": "imported_file", "title": "Full Text PDF",
            "contentType": "application/pdf", "filename": "paper.pdf"}


@pytest.fixture
def zotero() -> Iterator[ZoteroServer]:
    with ZoteroServer() as server:
        yield server


@pytest.fixture
def arxiv() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def _runtime(home: Path, embedder, zotero: ZoteroServer, arxiv: ReplayServer, key: str = "zotero-test-key"):
    return make_runtime(home, embedder, use_arxiv=True, arxiv_api_url=f"{arxiv.base}/api/query",
                        arxiv_pdf_url=f"{arxiv.base}/pdf/", arxiv_delay_seconds=0, allowed_fetch_hosts=arxiv.base,
                        **{"ZOTERO_API_KEY": key, "ZOTERO_API_URL": zotero.base})


def _item_requests(zotero: ZoteroServer) -> list[str]:
    return [path for path, _ in zotero.requests if "/items?" in path]


def test_sync_brings_items_and_pdfs_then_only_what_changed(tmp_path: Path, embedder, zotero: ZoteroServer,
                                                          arxiv: ReplayServer, monkeypatch) -> None:
    monkeypatch.setattr(tools.zotero, "PAGE", 2)  # several pages from a small library
    s2orc = zotero.put(S2ORC)
    zotero.put(_attachment(s2orc), file=(PAPERS / "acl_2020.acl-main.447.pdf").read_bytes())
    graph, gait = zotero.put(GRAPH), zotero.put(GAIT)
    zotero.put({"itemType": "note", "parentItem": gait, "note": "<p>read again</p>"})
    zotero.put({"itemType": "book", "title": "", "creators": []})
    zotero.faults, zotero.backoff = [Fault(429, {"Retry-After": "0"})], "0.2"  # busy, then shedding load
    runtime = _runtime(tmp_path / "home", embedder, zotero, arxiv)
    sync = zotero_sync(runtime)

    report = sync.sync(LIBRARY)
    assert report.changed and report.version == zotero.version
    by_key = {r.path.rsplit("/", 1)[1]: r for r in report.results}
    assert [r.status for r in report.results] == ["added"] * 3
    paper = runtime.catalog.find_paper(by_key[s2orc].paper_id)
    assert paper.page_count == 15 and paper.doi == S2ORC["DOI"]  # the attached PDF, under Zotero's metadata
    assert by_key[graph].paper_id == "1605.08386"  # fetched from arXiv (the recording's paper of that id)
    reference = runtime.catalog.find_paper(by_key[gait].paper_id)
    assert reference.source == "bibliography" and reference.authors == ["Stroke Research Group"]
    assert len(report.skipped) == 1 and report.skipped[0][1] == "an item without a title"
    assert len(list((runtime.settings.storage.papers_dir / "zotero").rglob("*.pdf"))) == 1  # the file its paper uses

    requests = len(zotero.requests)
    assert not sync.sync(LIBRARY).changed  # nothing changed: one request, answered 304
    assert len(zotero.requests) == requests + 1
    assert zotero.requests[-1][1]["If-Modified-Since-Version"] == str(report.version)

    zotero.redirect_files = True  # a PDF attached to the kept reference later, served through Zotero's storage
    zotero.put(_attachment(gait), file=(PAPERS / "acl_2020.acl-main.207.pdf").read_bytes())
    zotero.delete(graph)
    third = sync.sync(LIBRARY)
    assert f"since={report.version}" in _item_requests(zotero)[-1]
    [upgraded] = third.results
    assert upgraded.status == "added" and runtime.catalog.find_paper(upgraded.paper_id).page_count > 1
    assert runtime.catalog.find_paper(reference.paper_id) is None  # the reference made way for its PDF
    assert third.removed == ["1605.08386"] and runtime.catalog.find_paper("1605.08386") is None
    storage = [headers for path, headers in zotero.requests if path.startswith("/storage/")]
    assert storage and all("Zotero-API-Key" not in headers for headers in storage)  # the key stays with Zotero


def test_a_collection_syncs_its_own_items(tmp_path: Path, embedder, zotero: ZoteroServer,
                                          arxiv: ReplayServer) -> None:
    zotero.put(S2ORC)
    zotero.put(GRAPH)
    zotero.put(GAIT)
    runtime = _runtime(tmp_path / "home", embedder, zotero, arxiv)
    report = zotero_sync(runtime).sync(LIBRARY, collection="READING1")
    assert sorted(r.title for r in report.results) == sorted([S2ORC["title"], GAIT["title"]])
    assert report.library == f"user:{USER}/collection/READING1"


def test_bad_library_key_and_busy_zotero_are_explained(tmp_path: Path, zotero: ZoteroServer) -> None:
    with pytest.raises(ZoteroError, match="user:ID or group:ID"):
        ZoteroLibrary.parse("1234567")
    zotero.put(GAIT)
    env = {**os.environ, "SCISYNTH_HOME": str(tmp_path / "home"), "SCISYNTH_USE_ARXIV": "false",
           "ZOTERO_API_KEY": "wrong", "ZOTERO_API_URL": zotero.base}
    run = subprocess.run([sys.executable, "-m", "cli.main", "zotero", "sync", "--library", f"user:{USER}"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert run.returncode == 2 and "Zotero refused the key (HTTP 403)" in run.stderr, run.stderr
    run = subprocess.run([sys.executable, "-m", "cli.main", "zotero", "sync", "--json", "--library", f"user:{USER}"],
                         capture_output=True, text=True, env={**env, "ZOTERO_API_KEY": zotero.api_key}, cwd=ROOT,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["counts"] == {"added": 1, "unchanged": 0, "failed": 0}
    client = tools.zotero.ZoteroClient(zotero.api_key, zotero.base, attempts=2, max_wait=0.1)
    zotero.faults = [Fault(503, {"Retry-After": "0"})] * 2
    with pytest.raises(ZoteroError, match="Zotero is busy"):
        client.changes(LIBRARY)


def test_sync_over_http_is_a_job(tmp_path: Path, embedder, zotero: ZoteroServer, arxiv: ReplayServer) -> None:
    zotero.put(GAIT)
    zotero.put({"itemType": "book", "title": "", "creators": []})
    with TestClient(create_app(runtime=_runtime(tmp_path / "home", embedder, zotero, arxiv))) as client:
        assert client.post("/v1/zotero/sync", json={"library": "1234567"}).status_code == 422
        job = client.post("/v1/zotero/sync", json={"library": f"user:{USER}"})
        assert job.status_code == 202, job.text
        state = finished_job(client, job.json())
        assert [r["status"] for r in state["results"]] == ["added", "skipped"]
        assert state["results"][1]["error"] == "an item without a title"
    unconfigured = make_runtime(tmp_path / "other", embedder)
    with TestClient(create_app(runtime=unconfigured)) as client:
        refused = client.post("/v1/zotero/sync", json={"library": f"user:{USER}"})
        assert refused.status_code == 409 and "ZOTERO_API_KEY" in refused.json()["detail"]


def test_hostile_and_awkward_items_and_a_failed_download_retried(tmp_path: Path, embedder, zotero: ZoteroServer,
                                                                 arxiv: ReplayServer) -> None:
    s2orc = zotero.put(S2ORC)
    zotero.put(_attachment(s2orc), file=(PAPERS / "acl_2020.acl-main.447.pdf").read_bytes())
    gait = zotero.put(GAIT)
    zotero.put({**GAIT, "title": "Creators of the wrong type", "creators": ["Smith", None, 3]})
    zotero.put({**GAIT, "title": "No creators", "creators": None})
    zotero.put({"itemType": "attachment", "linkMode": "imported_file", "contentType": "application/pdf",
                "title": "loose.pdf"}, file=(PAPERS / "acl_N18-3011.pdf").read_bytes())
    zotero.put(_attachment(gait), key="../../../escaped", file=(PAPERS / "acl_N18-3011.pdf").read_bytes())
    zotero.items["NODATA00"] = {"key": "NODATA00", "version": zotero.version, "data": None}
    runtime = _runtime(tmp_path / "home", embedder, zotero, arxiv)
    sync = zotero_sync(runtime)
    files = [key for key in zotero.files if key != "../../../escaped"]
    zotero.files[files[0]], real_pdf = b"<html>rate limited</html>", zotero.files[files[0]]  # the PDF fails once

    first = sync.sync(LIBRARY)
    skipped = sorted((key, reason.split(":")[0].split(" (")[0]) for key, reason in first.skipped)
    assert [reason for _, reason in skipped] == ["a malformed item", "a malformed item", "a PDF without a parent item"]
    assert [key for key, _ in skipped][:2] == ["../../../escaped", "NODATA00"]
    assert not (tmp_path / "escaped.pdf").exists() and not list(tmp_path.rglob("escaped.pdf"))
    by_key = {r.path.rsplit("/", 1)[1]: r for r in first.results}
    assert runtime.catalog.find_paper(by_key[s2orc].paper_id).source == "bibliography"  # PDF not had yet
    assert "not a PDF" in by_key[s2orc].error and "next sync tries again" in by_key[s2orc].error
    assert {r.title for r in first.results} >= {"Creators of the wrong type", "No creators"}

    zotero.files[files[0]] = real_pdf
    second = sync.sync(LIBRARY)  # Zotero has nothing new, but the failed download is tried again
    assert not second.changed and [r.status for r in second.results] == ["added"]
    assert runtime.catalog.find_paper(second.results[0].paper_id).page_count == 15
    assert runtime.catalog.find_paper(by_key[s2orc].paper_id) is None  # the reference made way
    assert sync.sync(LIBRARY).results == []  # and then nothing is left to retry

    zotero.put({**S2ORC, "title": "S2ORC, renamed in Zotero"}, key=s2orc)  # an edit: still the same paper
    edited = sync.sync(LIBRARY)
    assert [(r.status, r.paper_id) for r in edited.results] == [("unchanged", second.results[0].paper_id)]
    zotero.put({**GAIT, "title": "Gait after stroke (edited)"}, key=gait)  # a reference follows its item's edit
    [renamed] = sync.sync(LIBRARY).results
    assert renamed.status == "added" and runtime.catalog.find_paper(by_key[gait].paper_id) is None
    assert runtime.catalog.paper_count() == 4  # S2ORC, the edited reference, the two odd-creator items
