"""The evidence judge with the real encoder: trained end to end by the CLI on a sample, loaded through
SCISYNTH_EVIDENCE_JUDGE, and, shipped, ranking an answer above the research question that restates the question."""

from __future__ import annotations

import json
from pathlib import Path

from agent.evidence import SentenceScorer
from agent.llm.extractive import ExtractiveComposer
from retrieval.embeddings import Embedder
from retrieval.search import Passage
from tests.conftest import make_runtime
from tests.test_cli import scisynth

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _passage(n: int, text: str, section: str) -> Passage:
    return Passage(chunk_id=n, paper_id=f"p{n}", title=f"Paper {n}", section=section, page=1, page_start=1,
                   page_end=1, text=text, score=1.0 / n)


def test_train_judge_on_a_sample_writes_weights_the_service_loads(tmp_path: Path, embedder: Embedder) -> None:
    out = tmp_path / "judge.json"
    run = scisynth(tmp_path / "home", "train", "judge", "--max-questions", "20", "--data-dir", str(DATA),
                   "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "cosine (baseline)" in run.stdout and "weights (standardised)" in run.stdout
    manifest = json.loads(out.read_text())["manifest"]
    assert manifest["data"]["questions"] == {"pubmedqa-train": 20, "scifact-train": 20}
    assert manifest["max_questions"] == 20 and "claims_train.jsonl" in " ".join(manifest["data"]["files"])
    runtime = make_runtime(tmp_path / "home", embedder, evidence_judge=str(out))
    assert runtime.scorer.judge.manifest["max_questions"] == 20
    runtime.engine.dispose()


def test_an_answer_quotes_the_finding_not_the_research_question(embedder: Embedder) -> None:
    """The new user's case of issue 40: the paper's research questions resemble the question more than its
    findings do; the answer must quote the finding (and never a question)."""
    question = "How many annotators are needed for reliable faithfulness judgments of long summaries?"
    aims = _passage(1, "We ask three research questions. RQ1: How many annotators are needed for reliable "
                       "faithfulness judgments of long summaries? RQ2: Can highlighting reduce annotator workload?",
                    "1 Introduction")
    finding = _passage(2, "Agreement between annotators was low for long summaries. With three annotators per "
                          "summary, faithfulness judgments reached a Krippendorff's alpha of 0.72, and adding a "
                          "fourth annotator did not raise it further.", "5 Results")
    composer = ExtractiveComposer(SentenceScorer(embedder))
    answer = composer.compose(question, [aims, finding])
    assert "three annotators per summary" in answer
    assert "RQ1" not in answer and "?" not in answer


def test_an_aim_stated_as_a_sentence_does_not_push_the_finding_out(embedder: Embedder) -> None:
    """"We hypothesized that..." restates the question without a question mark; the judge rates it highest, and a
    ratio measured from it would drop the finding (a reviewer's case)."""
    question = "Does vitamin D supplementation reduce fractures in older women?"
    aim = _passage(1, "We randomised 2,000 women aged 70 or over. We hypothesized that vitamin D supplementation "
                      "would reduce fractures in older women.", "Introduction")
    finding = _passage(2, "Over five years, 8.1% of women in the vitamin D group and 8.3% in the placebo group had "
                          "a fracture (HR 0.98, 95% CI 0.82-1.16).", "Results")
    scorer = SentenceScorer(embedder)
    [[_, hypothesis], [result]] = scorer.sentences(question, [aim, finding], judged_from=0.0)
    assert hypothesis.evidence > result.evidence  # the judge alone prefers the restatement...
    answer = ExtractiveComposer(scorer).compose(question, [aim, finding])
    assert "8.1% of women" in answer and "hypothesized" not in answer  # ...the answer quotes the finding
    alone = ExtractiveComposer(scorer).compose(question, [aim])
    assert "hypothesized" in alone  # with nothing else, the aim is still quoted rather than nothing


def test_a_run_in_background_restating_the_question_is_quoted_only_when_nothing_else_answers(
        embedder: Embedder) -> None:
    """PubMed and SciFact print a structured abstract as one paragraph: the label "BACKGROUND" marks its part to the
    next label, and the part's second sentence restates the question as much as the first."""
    question = "Do statins lower blood cholesterol in adults with type 2 diabetes?"
    abstract = _passage(1, "BACKGROUND Type 2 diabetes doubles the risk of heart disease. Statins are widely believed "
                           "to lower blood cholesterol in adults with type 2 diabetes. METHODS We randomised 812 "
                           "adults to atorvastatin or placebo. RESULTS Atorvastatin lowered LDL cholesterol by 38% "
                           "over 24 weeks compared with placebo.", "Abstract")
    answer = ExtractiveComposer(SentenceScorer(embedder)).compose(question, [abstract])
    assert "lowered LDL cholesterol by 38%" in answer and "widely believed" not in answer


def test_a_quoted_sentence_s_own_numbered_citations_are_not_read_as_the_answer_s(embedder: Embedder) -> None:
    """"heart failure [13] and is required..." once split the answer at [13]: the statement was cut in two and its
    halves removed as unsupported. The answer drops the paper's own numbers; the reference quotes them."""
    from dataclasses import replace

    from agent.citations import CitationChecker

    question = "Is moderate daily activity recommended for patients with heart failure?"
    passage = replace(_passage(1, "Regular, moderate daily activity is recommended for all patients with heart "
                                  "failure [13] and is required to sustain functional improvements [14, 15].",
                               "Discussion"), page_spans=[(0, 1)])
    scorer = SentenceScorer(embedder)
    answer = ExtractiveComposer(scorer).compose(question, [passage])
    assert "[13]" not in answer and "heart failure and is required" in answer
    checked = CitationChecker(scorer).check(answer, [passage])
    assert checked.unsupported_removed == 0 and checked.text == answer
    assert checked.citations[0]["quote"].endswith("[13] and is required to sustain functional improvements [14, 15].")


def test_the_judge_answers_what_which_and_how_many_questions_from_the_sentence_that_says_so(
        embedder: Embedder) -> None:
    """The training sets state claims or ask yes/no questions; researchers also ask which patients, what dose, which
    platform. A judge retrained to favour a results sentence's position quoted the Results line for all of them
    (docs/evals.md, "tried, left out"): the shipped one must pick the sentence that answers."""
    trial = _passage(1, "Background: Whether aspirin prevents stroke in older adults is debated. Methods: We "
                        "randomised 4,120 adults aged over 65 to 100 mg aspirin or placebo for five years. Results: "
                        "Aspirin reduced the incidence of ischaemic stroke by 24% compared with placebo (hazard "
                        "ratio 0.76). Major bleeding was more frequent with aspirin. Conclusions: Low-dose aspirin "
                        "lowers the risk of ischaemic stroke in older adults.", "Abstract")
    study = _passage(2, "Faithfulness evaluation of long summaries is costly. We recruited 12 annotators on Upwork "
                        "and collected 3,000 judgments over 150 summaries. Inter-annotator agreement reached 0.71 "
                        "with three annotators per summary. Automated alignment between summary and source reduced "
                        "annotation time by 30%.", "Abstract")
    scorer = SentenceScorer(embedder)
    for passage, question, answer in (
            (trial, "Which patients were studied, with their condition and setting?", "randomised 4,120 adults"),
            (trial, "What dose of aspirin was given?", "100 mg aspirin"),
            (trial, "What was the main result?", "reduced the incidence"),
            (study, "Which platform were annotators recruited on?", "on Upwork")):
        [sentences] = scorer.sentences(question, [passage], judged_from=0.0)
        best = max(sentences, key=lambda sentence: sentence.evidence)
        assert answer in best.text, (question, best.text)
