"""The evidence judge's parts: sentence types, features, the shipped weights and their manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.evidence_judge import (
    FEATURES,
    WEIGHTS,
    EvidenceJudge,
    QuestionContext,
    load_judge,
    passage_features,
    shipped_judge,
    stems,
)
from agent.sentence_types import sentence_type

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.parametrize(("text", "kind"), [
    ("How can we minimize annotator workload while maintaining accurate faithfulness scores?", "question"),
    ("RQ1: Can inter-annotator agreement be improved by highlighting the source?", "question"),
    ("Please read the summary and select every sentence that is not supported.", "instruction"),
    ("Annotators were asked to mark each unsupported claim.", "instruction"),
    ("This study aims to estimate how many annotators are needed.", "aim"),
    ("We hypothesised that longer summaries need more annotators.", "aim"),
    # a Royal Society paper's aim, quoted as the answer to how long the change it measured takes
    ("In this study, we turned to pandas as an extreme case, to test our hypothesis that maturation is slow.", "aim"),
    ("The results support the hypothesis that maturation is slow.", "finding"),
    ("Smith et al. showed that agreement drops for long documents.", "prior_work"),
    ("We recruited 40 participants from a crowdsourcing platform.", "method"),
    ("We found that three annotators reach an agreement of 0.8.", "finding"),
    ("Agreement was significantly higher with highlighting (p < 0.01).", "finding"),
    ("Summaries are short texts.", "other"),
])
def test_sentence_types(text: str, kind: str) -> None:
    assert sentence_type(text).main == kind


def test_questions_and_instructions_are_not_quoted_as_answers() -> None:
    assert not sentence_type("Do humans benefit from automated alignment?").quotable_as_answer
    assert not sentence_type("Please rate the summary from 1 to 5.").quotable_as_answer
    assert sentence_type("Three annotators were enough for reliable judgments.").quotable_as_answer


def test_features_describe_each_sentence_against_its_passage_and_the_evidence() -> None:
    texts = ["How many annotators are needed?", "Three annotators were enough (kappa 0.81).", "We thank the reviewers."]
    cosines = np.array([0.9, 0.6, 0.1], dtype=np.float32)
    question = QuestionContext.among("How many annotators are needed for reliable judgments?", texts, 0.95)
    rows = passage_features(question, texts, cosines)
    named = [dict(zip(FEATURES, row, strict=True)) for row in rows]
    assert rows.shape == (3, len(FEATURES))
    assert named[0]["is_question"] == 1.0 and named[1]["is_question"] == 0.0
    assert named[0]["gap_to_passage_best"] == 0.0 and named[1]["gap_to_passage_best"] < 0
    assert named[1]["gap_to_evidence_best"] == pytest.approx(0.6 - 0.95)
    assert named[1]["numbers"] > 0 and named[2]["question_words_covered"] == 0.0
    # "reliable" and "judgments" appear in no candidate: the rarest words, and the second sentence has neither
    assert 0 < named[1]["rare_question_words_covered"] < named[1]["question_words_covered"] + 0.5
    assert question.rarity[stems("reliable").pop()] > question.rarity[stems("annotators").pop()]
    only = passage_features(question, texts, cosines, rows=[2])
    assert only.shape == (1, len(FEATURES)) and only[0, 0] == pytest.approx(0.1)


def test_the_shipped_judge_and_its_manifest() -> None:
    judge = shipped_judge()
    manifest = judge.manifest
    questions = manifest["data"]["questions"]
    assert questions["scifact-train"] > 300 and questions["pubmedqa-train"] > 300
    assert set(manifest["data"]["files"]) >= {"scifact/claims_train.jsonl", "pubmedqa/ori_pqal.json"}
    table = manifest["cross_validation"]["table"]
    # learned, not by construction: cross-validated on questions it did not fit, better than similarity alone
    assert table[f"judge C={manifest['c']}"]["p@1"] > table["cosine (baseline)"]["p@1"]
    probabilities = judge.probability(np.zeros((2, len(FEATURES)), dtype=np.float32))
    assert probabilities.shape == (2,) and np.all((probabilities > 0) & (probabilities < 1))


def test_the_manifest_names_the_data_it_was_trained_on() -> None:
    from tools.documents import sha256_of_file

    files = shipped_judge().manifest["data"]["files"]
    present = {name: SHARED / name for name in files if (SHARED / name).exists()}
    if not present:
        pytest.skip(f"the shared data is not at {SHARED}")
    assert {name: sha256_of_file(path) for name, path in present.items()} == {n: files[n] for n in present}


def test_a_judge_file_for_other_features_or_no_file_is_refused_clearly(tmp_path: Path) -> None:
    data = json.loads(WEIGHTS.read_text())
    data["features"] = data["features"][:-1]
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="scisynth train judge"):
        load_judge(str(stale))
    with pytest.raises(ValueError, match="unset it"):
        load_judge(str(tmp_path / "missing.json"))
    for change, reason in (({"coef": [0.1, 0.2]}, "finite numbers"), ({"intercept": None}, "incomplete"),
                           ({"scale": [0.0] * len(FEATURES)}, "scales above 0"), ({"mean": None}, "finite numbers")):
        broken = tmp_path / "broken.json"
        broken.write_text(json.dumps({**json.loads(WEIGHTS.read_text()), **change}))
        with pytest.raises(ValueError, match=reason):
            load_judge(str(broken))
    assert load_judge("") is shipped_judge()
    assert EvidenceJudge.from_json(shipped_judge().to_json()).intercept == pytest.approx(shipped_judge().intercept)
