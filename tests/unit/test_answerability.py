"""A question that asks two things is judged part by part (agent/answerability.py)."""

from __future__ import annotations

import pytest

from agent.answerability import question_parts


@pytest.mark.parametrize(("question", "parts"), [
    ("What predicts leakage after sleeve gastrectomy, and which preventive measures have been tested?",
     ["What predicts leakage after sleeve gastrectomy", "which preventive measures have been tested?"]),
    ("Is the drug safe and does it work?", ["Is the drug safe", "does it work?"]),
    ("How do cats and dogs differ?", ["How do cats and dogs differ?"]),  # "and" inside one question
    ("Does aspirin and what else reduce stroke?", ["Does aspirin and what else reduce stroke?"]),  # a part too short
])
def test_a_question_is_split_only_where_a_second_question_starts(question: str, parts: list[str]) -> None:
    assert question_parts(question) == parts
