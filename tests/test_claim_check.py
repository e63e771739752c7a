"""Checking a claim against a library: the command line on papers that agree and disagree, the HTTP route on the
shared PDFs, `/scisynth check` in Slack, and training the classifier from the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlencode

import httpx

from retrieval.embeddings import Embedder
from tests.conftest import make_runtime
from tests.test_api import server  # noqa: F401 - the uvicorn fixture
from tests.test_cli import scisynth
from tests.test_slack import post, signed, slack  # noqa: F401 - the Slack fixture

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
JSON = {"Content-Type": "application/json"}
TRIALS = [
    {"id": "trial-a", "title": "Low-dose aspirin and stroke in older adults: a randomised trial", "year": 2019,
     "abstract": "Background: Whether aspirin prevents stroke in older adults is debated. Methods: We randomised "
                 "4,120 adults aged over 65 to 100 mg aspirin or placebo for five years. Results: Aspirin reduced "
                 "the incidence of ischaemic stroke by 24% compared with placebo (hazard ratio 0.76, 95% CI "
                 "0.63-0.92). Major bleeding was more frequent with aspirin. Conclusions: Low-dose aspirin lowers "
                 "the risk of ischaemic stroke in older adults."},
    {"id": "cohort-b", "title": "Aspirin use and incident stroke: a population cohort", "year": 2021,
     "authors": ["Ana Lindqvist", "Tomás de la Cruz"],
     "abstract": "We followed 18,000 adults for eight years to examine aspirin use and stroke. Aspirin use did not "
                 "reduce the risk of stroke (hazard ratio 1.02, 95% CI 0.88-1.19). There was no significant "
                 "difference in ischaemic stroke between users and non-users. Aspirin users had more "
                 "gastrointestinal bleeding."},
    {"id": "soil-c", "title": "Nitrogen cycling in alpine soils", "year": 2018,
     "abstract": "We measured nitrogen mineralisation in 40 alpine soil cores. Mineralisation rates increased with "
                 "temperature. Microbial biomass explained most of the variation."}]


def _trials(folder: Path) -> Path:
    """The three papers above as a JSONL file to ingest."""
    records = folder / "trials.jsonl"
    records.write_text("".join(json.dumps(record) + "\n" for record in TRIALS))
    return records


def test_check_finds_the_paper_that_supports_and_the_one_that_contradicts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert scisynth(home, "ingest", str(_trials(tmp_path))).returncode == 0
    run = scisynth(home, "check", "Aspirin lowers the risk of stroke", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    stances = {paper["paper_id"]: paper["stance"] for paper in result["papers"]}
    assert stances == {"trial-a": "supports", "cohort-b": "contradicts", "soil-c": "insufficient"}
    assert result["verdict"] == "mixed" and result["counts"] == {"supports": 1, "contradicts": 1, "insufficient": 1}
    quoted = {paper["paper_id"]: " ".join(q["quote"] for q in paper["rationale"]) for paper in result["papers"]}
    assert "reduced the incidence of ischaemic stroke" in quoted["trial-a"]
    assert "did not reduce the risk of stroke" in quoted["cohort-b"] and quoted["soil-c"] == ""
    numbers = [q["n"] for paper in result["papers"] for q in paper["rationale"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert all(0 < paper["confidence"] <= 1 for paper in result["papers"])
    human = scisynth(home, "check", "Aspirin lowers the risk of stroke", "--paper", "trial-a")
    assert "Verdict: supported (1 paper supports, 0 contradict, 0 do not address it)" in human.stdout
    empty = scisynth(home, "check", "   ")
    assert empty.returncode == 2 and "the claim is empty" in empty.stderr


def test_post_check_on_the_shared_papers_quotes_their_pages(server: str) -> None:  # noqa: F811
    claim = "S2ORC is a corpus of 81.1M English-language academic papers spanning many academic disciplines"
    response = httpx.post(f"{server}/v1/check", json={"claim": claim, "papers": 3}, timeout=120)
    assert response.status_code == 200, response.text
    result = response.json()
    assert set(result) == {"claim", "verdict", "counts", "papers", "trace"}
    assert 1 <= len(result["papers"]) <= 3 and sum(result["counts"].values()) == len(result["papers"])
    s2orc = next(p for p in result["papers"] if p["title"].startswith("S2ORC"))  # the claim is its abstract's
    assert s2orc["stance"] == "supports" and result["verdict"] == "supported" and s2orc["rationale"]
    assert s2orc["byline"] == "Lo et al. 2020"  # who wrote it, as a citation names it
    assert all(isinstance(q["page"], int) and q["section"] for q in s2orc["rationale"])
    assert s2orc["rationale"][0]["page"] == 1 and "81.1M" in s2orc["rationale"][0]["quote"]
    library = httpx.get(f"{server}/v1/search", params={"q": s2orc["rationale"][0]["quote"], "k": 3}).json()
    assert any(s2orc["rationale"][0]["quote"] in hit["text"] for hit in library["results"])  # verbatim
    for bad in ({"claim": "  \n "}, {"claim": "x" * 2001}, {"claim": "ok claim", "papers": 0},
                {"claim": "aspirin \ud800 stroke"}):
        refused = httpx.post(f"{server}/v1/check", content=json.dumps(bad), headers=JSON)  # \ud800 escaped
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    found = httpx.post(f"{server}/v1/contradictions", json={"topic": "citation graphs of papers"}, timeout=120)
    assert found.status_code == 200 and set(found.json()) == {"topic", "pairs", "trace"}
    assert "pairs compared" in found.json()["trace"][0]
    for bad_topic in ("    ", "aspirin \ud800"):
        refused = httpx.post(f"{server}/v1/contradictions", content=json.dumps({"topic": bad_topic}), headers=JSON)
        assert refused.status_code == 422


def test_slash_check_answers_in_a_thread(slack) -> None:  # noqa: F811
    client, fake, _ = slack
    body = urlencode({"command": "/scisynth", "text": "check S2ORC contains millions of academic papers",
                      "channel_id": "C9", "user_id": "U1", "team_id": "T1",
                      "response_url": fake.url + "response", "trigger_id": "t"})
    assert "Working on" in post(client, body, signed(body), form=True).text
    assert fake.wait_for("chat.postMessage", 2)
    opened, reply = fake.of("chat.postMessage")[:2]
    assert opened["text"].startswith("*Checking:*") and reply.get("thread_ts")  # the check, in the claim's thread
    assert "*Verdict:*" in reply["text"] and "S2ORC" in reply["text"] and "(Lo et al. 2020)" in reply["text"]
    body = body.replace("check+S2ORC", "check+--arxiv+S2ORC")  # this bot's server has arXiv off: it says so
    post(client, body, signed(body), form=True)
    assert fake.wait_for("chat.postMessage", 4)
    opened, reply = fake.of("chat.postMessage")[2:4]
    assert opened["text"] == "*Checking:* S2ORC contains millions of academic papers"
    assert "SCISYNTH_USE_ARXIV=false" in reply["text"]


def test_train_stance_on_a_sample_writes_a_model_the_service_loads(tmp_path: Path, embedder: Embedder) -> None:
    out = tmp_path / "stance.json"
    run = scisynth(tmp_path / "home", "train", "stance", "--max-claims", "30", "--data-dir", str(DATA),
                   "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "claim-only baseline" in run.stdout and "two stages" in run.stdout
    manifest = json.loads(out.read_text())["manifest"]
    assert manifest["max_claims"] == 30 and sum(manifest["data"]["pubmedqa_non_test_pairs"].values()) == 30
    # stage 1 also learned from PubMedQA: each sampled question's own abstract and its BM25 neighbours
    assert manifest["data"]["pubmedqa_non_test_papers"]["evidence"] == 30
    assert manifest["data"]["pubmedqa_non_test_papers"]["not evidence"] >= 30
    from service import build_services

    runtime = make_runtime(tmp_path / "home", embedder, stance_model=str(out))
    assert build_services(runtime).claims.classifier.manifest["max_claims"] == 30
    runtime.engine.dispose()


def test_contradictions_pair_the_findings_that_disagree(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert scisynth(home, "ingest", str(_trials(tmp_path))).returncode == 0
    run = scisynth(home, "contradictions", "aspirin and stroke", "--json")
    assert run.returncode == 0, run.stderr
    pairs = json.loads(run.stdout)["pairs"]
    assert pairs and {pairs[0]["first"]["paper_id"], pairs[0]["second"]["paper_id"]} == {"trial-a", "cohort-b"}
    quotes = pairs[0]["first"]["quote"] + pairs[0]["second"]["quote"]
    assert "did not reduce the risk of stroke" in quotes and "reduced the incidence" in quotes
    assert all("soil-c" not in (p["first"]["paper_id"], p["second"]["paper_id"]) for p in pairs)
    human = scisynth(home, "contradictions", "aspirin and stroke")
    assert human.stdout.startswith("1. disagreement") and "(2019), Abstract:" in human.stdout


def test_a_model_judges_within_its_budget_and_garbage_falls_back(tmp_path: Path, embedder: Embedder) -> None:
    """With a model: it judges the papers (its reply quoted as its rationale) up to the budget, the classifier the
    rest; an unusable reply is judged by the classifier and said in the trace."""
    from agent.claim_check import ClaimChecker
    from agent.llm.scripted import ScriptedChatModel
    from agent.stance import shipped_stance

    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.ingest_paths([_trials(tmp_path)])
    model = ScriptedChatModel(responses=['{"label": "CONTRADICT", "sentences": [0]}', "not json at all"])
    checker = ClaimChecker(runtime.searcher, runtime.scorer, shipped_stance(), model, max_model_calls=2)
    result = checker.check("Aspirin lowers the risk of stroke")
    judged_by = [paper.judged_by for paper in result.papers]
    assert judged_by.count("llm:scripted") == 1 and judged_by.count("stance-classifier") == 2
    by_model = next(paper for paper in result.papers if paper.judged_by == "llm:scripted")
    assert by_model.stance == "contradicts" and by_model.confidence is None and len(by_model.rationale) == 1
    assert "1 model replies unusable (the classifier judged)" in result.trace[-1]
    runtime.engine.dispose()


def test_a_stance_rests_on_what_a_paper_found_not_on_its_background_or_objectives(tmp_path: Path,
                                                                                   embedder: Embedder) -> None:
    """A real structured abstract (PLOS ONE 2018, read from its PDF): its Background and Objectives restate the claim
    and rate highest as evidence; its findings say the oils have no virucidal activity. The stance rests on the
    findings. (Which way the classifier then reads them is its own limit: docs/evals.md.)"""
    from agent.claim_check import ClaimChecker
    from agent.stance import shipped_stance

    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.ingest_paths([DATA / "pdf-corpus" / "plos_one_2018" / "paper.pdf"])
    checker = ClaimChecker(runtime.searcher, runtime.scorer, shipped_stance())
    result = checker.check("Cymbopogon citratus and Pelargonium graveolens essential oils have strong virucidal "
                           "activity against Ross River virus")
    paper = result.papers[0]
    assert paper.stance != "insufficient" and any(re.search(r"(?:did not display|do not have) virucidal activity",
                                                            quote.quote) for quote in paper.rationale), paper
    assert not any(part.strip() in ("Background", "Objectives") for quote in paper.rationale
                   for part in quote.section.split(">"))
    runtime.engine.dispose()


def test_a_check_never_rests_on_a_papers_reference_list_or_acknowledgements(tmp_path: Path,
                                                                              embedder: Embedder) -> None:
    """A reference list that a PDF files under "Acknowledgments" holds titles of cited papers that restate the claim
    ("Prospects for aspirin as a new treatment of stroke"): what the paper cites is not what it found."""
    from agent.claim_check import ClaimChecker
    from agent.stance import shipped_stance

    record = {"paper_id": "soil-refs", "metadata": {"title": "Nitrogen cycling in alpine soils"},
              "abstract": {"text": "We measured nitrogen mineralisation in 40 alpine soil cores."},
              "body_text": [
                  {"section": "Results", "text": "Mineralisation rates increased with temperature in every core."},
                  {"section": "Acknowledgments", "text": "We thank the rangers. Low-dose aspirin lowers the risk of "
                                                        "stroke in older adults. Prospects for aspirin as a new "
                                                        "treatment to lower the risk of stroke."}]}
    records = tmp_path / "refs.jsonl"
    records.write_text(json.dumps(record) + "\n")
    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.ingest_paths([records])
    result = ClaimChecker(runtime.searcher, runtime.scorer, shipped_stance()).check(
        "Low-dose aspirin lowers the risk of stroke in older adults")
    assert result.verdict == "insufficient", result
    assert not [q for paper in result.papers for q in paper.rationale if "Acknowledgments" in q.section]
    runtime.engine.dispose()
