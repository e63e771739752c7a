"""The official SciFact metrics (Wadden et al. 2020; allenai/scifact-evaluator definitions):
abstract-level label-only and rationalized, sentence-level selection and selection+label, each P/R/F1.

Gold claims: {"id", "evidence": {doc: [{"sentences": [...], "label"}]}}; predictions: {"id",
"evidence": {doc: {"sentences": [...], "label": "SUPPORT"|"CONTRADICT"}}}, in the same claim order.
"""

from __future__ import annotations

from collections import Counter

LABELS = ("SUPPORT", "CONTRADICT")
ABSTRACT_RATIONALE_SENTENCES = 3  # abstract-level credit looks at the first three predicted sentences


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _prf(relevant: int, retrieved: int, correct: int, name: str) -> dict[str, float]:
    precision, recall = _ratio(correct, retrieved), _ratio(correct, relevant)
    f1 = _ratio(2 * precision * recall, precision + recall) if precision + recall else 0.0
    return {f"{name}_precision": precision, f"{name}_recall": recall, f"{name}_f1": f1}


def _gold_by_document(claim: dict) -> dict[str, tuple[str, list[set[int]]]]:
    """doc -> (label, rationale sentence sets); a document's rationales share one label."""
    documents = {}
    for doc, rationales in claim["evidence"].items():
        labels = {r["label"] for r in rationales}
        if len(labels) != 1:
            raise ValueError(f"claim {claim['id']}: conflicting labels for document {doc}")
        documents[str(doc)] = (labels.pop(), [set(r["sentences"]) for r in rationales])
    return documents


def score(golds: list[dict], predictions: list[dict]) -> dict[str, float]:
    if [g["id"] for g in golds] != [p["id"] for p in predictions]:
        raise ValueError("predictions must list the gold claims, in the same order")
    abstract, sentence = Counter(), Counter()
    for gold, prediction in zip(golds, predictions, strict=True):
        documents = _gold_by_document(gold)
        abstract["relevant"] += len(documents)
        sentence["relevant"] += sum(len(s) for _, sets in documents.values() for s in sets)
        for doc, predicted in prediction["evidence"].items():
            if predicted["label"] not in LABELS:
                raise ValueError(f"claim {prediction['id']}: label {predicted['label']!r} is not one of {LABELS}")
            chosen = set(predicted["sentences"])
            abstract["retrieved"] += 1
            sentence["retrieved"] += len(predicted["sentences"])
            if str(doc) not in documents:
                continue
            label, rationales = documents[str(doc)]
            # A predicted sentence counts when its whole gold rationale was predicted with it.
            correct = sum(1 for i in chosen if any(i in r and r <= chosen for r in rationales))
            sentence["correct_selection"] += correct
            if predicted["label"] == label:
                sentence["correct_label"] += correct
                abstract["correct_label_only"] += 1
                first = set(predicted["sentences"][:ABSTRACT_RATIONALE_SENTENCES])
                if any(r <= first for r in rationales):
                    abstract["correct_rationalized"] += 1
    return {
        **_prf(abstract["relevant"], abstract["retrieved"], abstract["correct_label_only"], "abstract_label_only"),
        **_prf(abstract["relevant"], abstract["retrieved"], abstract["correct_rationalized"], "abstract_rationalized"),
        **_prf(sentence["relevant"], sentence["retrieved"], sentence["correct_selection"], "sentence_selection"),
        **_prf(sentence["relevant"], sentence["retrieved"], sentence["correct_label"], "sentence_label"),
    }
