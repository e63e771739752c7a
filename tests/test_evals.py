"""Eval machinery: the official SciFact scorer reproduced exactly, metrics, judges and threshold checks."""

from __future__ import annotations

import json

import pytest

from evals.judge import negated, stance
from evals.pubmedqa import macro_f1
from evals.runner import check
from evals.scifact_scorer import score
from retrieval.embeddings import Embedder
from tests.conftest import DATA

FIXTURE = DATA / "scifact" / "evaluator-fixture"


def _jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURE / name).open()]


def test_scorer_reproduces_the_official_fixture_exactly() -> None:
    expected = json.loads((FIXTURE / "expected_metrics_small.json").read_text())
    got = score(_jsonl("gold_small.jsonl"), _jsonl("predictions_small.jsonl"))
    assert {k: got[k] for k in expected} == expected


def test_scorer_refuses_misordered_predictions_and_bad_labels() -> None:
    golds, predictions = _jsonl("gold_small.jsonl"), _jsonl("predictions_small.jsonl")
    with pytest.raises(ValueError, match="same order"):
        score(golds, predictions[::-1])
    predictions[2]["evidence"]["13734012"]["label"] = "MAYBE"
    with pytest.raises(ValueError, match="not one of"):
        score(golds, predictions)


def test_macro_f1_and_judges() -> None:
    assert macro_f1(["yes", "no", "maybe"], ["yes", "no", "maybe"]) == 1.0
    assert macro_f1(["yes", "yes", "no"], ["yes", "yes", "yes"]) == pytest.approx((0.8 + 0 + 0) / 3)
    assert negated("Aspirin does not reduce stroke risk.") and not negated("Aspirin reduces stroke risk.")
    assert stance("Aspirin reduces stroke risk.", "We found no reduction in stroke risk with aspirin.") == "CONTRADICT"


def test_threshold_check_names_metric_value_and_floor() -> None:
    report = {"suite": "pubmedqa", "metrics": {"pooled-corpus": {"accuracy": 0.5}}}
    assert check([report], {"pubmedqa": {"pooled-corpus": {"accuracy": 0.6}}}) == [
        "pubmedqa / pooled-corpus / accuracy: 0.5 < 0.6"]
    assert check([report], {"pubmedqa": {"pooled-corpus": {"accuracy": 0.4}}}) == []


def test_model_judge_and_its_fallback(embedder: Embedder) -> None:
    from agent.evidence import SentenceScorer
    from agent.llm.scripted import ScriptedChatModel
    from evals.judge import Judge

    model = ScriptedChatModel(responses=['{"label": "CONTRADICT", "sentences": [1, 7]}', "not json at all",
                                         '{"answer": "no"}'])
    judge = Judge(SentenceScorer(embedder), model)
    sentences = ["Mice were fed for ten weeks.", "Aspirin did not lower stroke risk.", "Data are public."]
    assert judge.verify("Aspirin lowers stroke risk.", sentences) == ("CONTRADICT", [1])
    label, chosen = judge.verify("Aspirin does not lower stroke risk.", sentences)  # unusable reply: rules
    assert (label, chosen) == ("SUPPORT", [1])
    assert judge.yes_no("Does aspirin lower stroke risk?", sentences) == "no"
    assert judge.name == "llm:scripted"
