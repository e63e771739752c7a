"""Sentence splitting for scientific prose: rule-based, so it needs no downloaded model data."""

from __future__ import annotations

import re

# Abbreviations that end with a period but rarely end a sentence in papers.
_ABBREVIATIONS = (
    "al", "e.g", "i.e", "etc", "fig", "figs", "eq", "eqs", "sec", "tab", "ref", "refs", "vs", "cf",
    "dr", "mr", "ms", "prof", "no", "vol", "approx", "resp", "ca", "st", "jr", "inc", "ltd", "u.s",
)
_BOUNDARY = re.compile(r"(?<=[.!?])(?P<closing>[\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATION_END = re.compile(r"(?:\b(?:" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + r")|\b[A-Z])\.$",
                               re.IGNORECASE)


# A plain lower-case word: what a sentence goes on with, never what one opens with ("p53", "mRNA", "n-BuLi" and "pH"
# may open one).
MID_SENTENCE_WORD = r"[a-z]+\b(?![\w-])"


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return (start, end) character spans of the sentences of `text`, covering every non-space char."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.start() + len(match.group("closing"))
        if _ABBREVIATION_END.search(text[start:match.start()]):
            continue
        spans.append((start, end))
        start = match.end()
    if start < len(text) and text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return _callouts_kept_behind([(s, e) for s, e in spans if text[s:e].strip()], text)


# A callout set after a sentence's full stop ("...the HA tag. (Fig. 4a) There was...") belongs to that sentence.
_LEADING_CALLOUT = re.compile(r"\((?:Figs?\.|Figures?|Tables?|Supplementary|ESM|Extended Data)[^()]{0,40}\)"
                              r"(?=\s+[A-Z])")


def _callouts_kept_behind(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Spans where a sentence that opens with a figure or table callout gives it to the sentence before."""
    for i in range(1, len(spans)):
        start, end = spans[i]
        if callout := _LEADING_CALLOUT.match(text, start):
            spans[i - 1] = (spans[i - 1][0], callout.end())
            spans[i] = (callout.end() + len(text[callout.end():end]) - len(text[callout.end():end].lstrip()), end)
    return spans


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]
