"""The library map on a real embedding model: papers on two subjects fall into labelled clusters of one subject
each, the same library gives the same map, a paper added later is placed among its neighbours without moving the
others; over HTTP with marks, and as HTML and PNG files from the command line. (Citation links: tests/test_web.py,
on the shared PDFs.)"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from agent.runtime import Runtime
from api.app import create_app
from retrieval.embeddings import Embedder
from retrieval.library_map import LibraryMap
from tests.conftest import make_runtime
from tests.test_cli import scisynth

FOLDING = ["chaperones", "misfolded intermediates", "hydrophobic collapse", "disulfide bonds", "ribosome exit tunnel",
           "molten globule states", "aggregation of amyloid", "heat shock proteins", "folding kinetics",
           "co-translational folding", "prion conversion", "native contacts"]
GALAXIES = ["dark matter halos", "spiral arms", "supermassive black holes", "star formation rates", "galaxy mergers",
            "stellar feedback", "gas accretion", "dwarf galaxies", "active galactic nuclei", "rotation curves",
            "tidal streams", "cosmic web filaments"]


def _record(paper_id: str, title: str, text: str) -> dict:
    return {"paper_id": paper_id, "metadata": {"title": title, "update_date": "2020-05-01"},
            "body_text": [{"section": "Abstract", "text": text}]}


def _papers(folder: Path, extra: list[dict] | None = None) -> Path:
    records = [_record(f"fold-{i}", f"Protein folding: the role of {topic}",
                       f"We study how {topic} shape protein folding in the cell. Misfolded proteins and folding "
                       f"pathways of globular proteins depend on {topic}.") for i, topic in enumerate(FOLDING)]
    records += [_record(f"gal-{i}", f"Galaxy evolution and {topic}",
                        f"We model {topic} in the evolution of galaxies. Simulated galaxies and observed galaxy "
                        f"surveys constrain {topic}.")
                for i, topic in enumerate(GALAXIES)]
    path = folder / "papers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records + (extra or [])))
    return path


def _runtime(tmp_path: Path, embedder: Embedder) -> Runtime:
    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.ingest_paths([_papers(tmp_path)])
    return runtime


def _purity(library: LibraryMap) -> float:
    """Share of papers whose cluster's majority subject is their own."""
    right = 0
    for cluster in {p.cluster for p in library.points}:
        members = [p.paper_id.split("-")[0] for p in library.points if p.cluster == cluster]
        right += max(members.count("fold"), members.count("gal"))
    return right / len(library.points)


def test_two_subjects_make_two_labelled_regions_and_the_map_stays_put(tmp_path: Path, embedder: Embedder) -> None:
    runtime = _runtime(tmp_path, embedder)
    with TestClient(create_app(runtime=runtime)) as client:
        first = client.get("/v1/library/map").json()
        assert first["layout"] == "computed" and len(first["papers"]) == 24
        again = client.get("/v1/library/map", params={"recompute": True}).json()
        assert [(p["x"], p["y"]) for p in again["papers"]] == [(p["x"], p["y"]) for p in first["papers"]]
        labels = " ".join(c["label"] for c in first["clusters"])
        assert any(word in labels for word in ("folding", "protein", "proteins"))
        assert any(word in labels for word in ("galaxies", "galaxy"))
        services = client.app.state.services
        built = services.maps.build()
        assert _purity(built) >= 0.9, [(p.paper_id, p.cluster) for p in built.points]
        # a paper added later lands among the papers on its subject; the others do not move
        added = _record("fold-new", "Protein folding: the role of trigger factor",
                        "We study how trigger factor shapes protein folding of nascent chains in the cell.")
        (tmp_path / "new.jsonl").write_text(json.dumps(added) + "\n")
        runtime.ingestor.ingest_paths([tmp_path / "new.jsonl"])
        extended = client.get("/v1/library/map").json()
        assert extended["layout"] == "extended"
        before = {p["paper_id"]: (p["x"], p["y"]) for p in first["papers"]}
        after = {p["paper_id"]: (p["x"], p["y"]) for p in extended["papers"]}
        assert all(after[paper] == place for paper, place in before.items())
        nearest = sorted(before, key=lambda paper: (before[paper][0] - after["fold-new"][0]) ** 2
                         + (before[paper][1] - after["fold-new"][1]) ** 2)[:5]
        assert all(paper.startswith("fold-") for paper in nearest), nearest
        assert client.get("/v1/library/map", params={"watch": "no-such-watch"}).status_code == 404
        assert client.get("/v1/library/map", params={"conversation": "not-mine"}).status_code == 404
    runtime.engine.dispose()


def test_the_map_marks_a_conversations_papers_and_is_written_as_html_and_png(tmp_path: Path) -> None:
    home = tmp_path / "home"
    hostile = _record("gal-x", 'Galaxies <img src=x onerror="alert(1)"> & "quotes"',
                      "We model gas accretion in the evolution of galaxies </title><script>alert(2)</script>.")
    assert scisynth(home, "ingest", str(_papers(tmp_path, [hostile]))).returncode == 0
    asked = scisynth(home, "ask", "What shapes protein folding in the cell?", "--conversation", "lab-1")
    assert asked.returncode == 0, asked.stderr
    run = scisynth(home, "map", "--conversation", "lab-1", "-o", str(tmp_path / "map.html"))
    assert run.returncode == 0, run.stderr
    assert "wrote the map of 25 papers" in run.stderr and "marked" in run.stderr
    page = (tmp_path / "map.html").read_text()
    assert page.count("<circle") == 25 and 'class="marked"' in page and "<script" not in page
    assert "<img" not in page and "Galaxies &lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp;" in page
    assert "Protein folding: the role of chaperones (2020)" in page
    png = scisynth(home, "map", "-o", str(tmp_path / "map.png"))
    assert png.returncode == 0 and (tmp_path / "map.png").read_bytes().startswith(b"\x89PNG")
    wrong = scisynth(home, "map", "-o", str(tmp_path / "map.svg"))
    assert wrong.returncode == 2 and "name it .html or .png" in wrong.stderr
    no_watch = scisynth(home, "map", "--watch", "nope", "-o", str(tmp_path / "m.html"))
    assert no_watch.returncode == 2 and "no watch nope" in no_watch.stderr
