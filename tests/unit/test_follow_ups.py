"""Follow-up questions without a model: told from new questions, and searched with what they add."""

from __future__ import annotations

import pytest

from agent.keywords import looks_like_follow_up
from agent.reasoning import RuleReasoner


@pytest.mark.parametrize("question", ["and in mice?", "what about its side effects?", "Which one was the least toxic?",
                                      "Did those reduce amyloid plaques?", "Is the former safer?"])
def test_short_questions_that_lean_on_the_last_turn_are_follow_ups(question: str) -> None:
    assert looks_like_follow_up(question)


@pytest.mark.parametrize("question", ["Which essential oils inhibited Ross River virus infection in vitro?",
                                      "How do bacteria share their genes?", "What is the one health approach?",
                                      "Do vaccines lose their efficacy over time?"])
def test_a_question_that_stands_alone_is_not(question: str) -> None:
    assert not looks_like_follow_up(question)


def test_a_follow_ups_keyword_search_keeps_what_it_adds() -> None:
    history = [{"question": "Does treatment with curcuminoid submicron particles improve spatial learning and memory "
                            "in the APP/PS1 mouse model?", "answer": "Yes [1]."}]
    plan = RuleReasoner(scorer=None).plan("Did it reduce amyloid plaques too?", history)  # type: ignore[arg-type]
    assert plan.intent == "follow_up" and plan.resolved_question.startswith("Does treatment with curcuminoid")
    assert plan.lexical_queries and {"amyloid", "plaques"} <= set(plan.lexical_queries[0].split())
