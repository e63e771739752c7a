"""Keyword helpers for the model-free steps: content words of a question, and follow-up detection."""

from __future__ import annotations

import re
from functools import cache


@cache
def stopwords() -> frozenset[str]:
    """scikit-learn's English stop words plus words that are common in questions about papers but say nothing
    about the topic. Imported on first use: scikit-learn takes seconds to import, which commands that never read
    a question (library, refs, export) should not pay."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | {
        "does", "evidence", "known", "paper", "papers", "please", "say", "says", "shown", "shows", "studies",
        "study", "tell", "use", "used", "using", "work",
    }


@cache
def question_framing() -> frozenset[str]:
    """Words that frame a question rather than name its subject ("Does X affect Y?", "What does Z contain?"): a
    passage that lacks them can still answer. Left out when measuring how much of a question a passage covers."""
    return stopwords() | {
        "affect", "affects", "associated", "association", "contain", "contains", "effect", "effects", "impact",
        "improve", "increase", "influence", "patients", "predict", "reduce", "related", "relationship", "role",
    }


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]+")
# Words that point back at the last turn. Not "their", "the same" or "the one": "How do bacteria share their
# genes?" and "What is the one health approach?" stand alone.
_FOLLOW_UP = re.compile(r"^(and|what about|how about|also|but|in|for|what if)\b|\b(it|they|them|this|that|these|"
                        r"those|which one|which ones|the former|the latter)\b", re.IGNORECASE)


def content_words(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for word in _WORD.findall(text):
        if word.lower() not in stopwords():
            seen.setdefault(word, None)
    return list(seen)


def looks_like_follow_up(question: str) -> bool:
    """Short questions that lean on the previous turn: "and in mice?", "what about its side effects?", "which one
    was the least toxic?"."""
    return len(content_words(question)) <= 4 and bool(_FOLLOW_UP.search(question.strip()))
