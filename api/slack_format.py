"""Answers as Slack mrkdwn: citations as numbered links to the paper (and page), hypotheses as sections,
and long messages split at paragraph boundaries so a citation is never cut in two."""

from __future__ import annotations

import re

SLACK_TEXT_LIMIT = 3500  # characters per message; Slack renders up to 4,000 comfortably
_MARKER = re.compile(r"\[(\d+)\]")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(citation: dict) -> str:
    label = f"[{citation['n']}]"
    return f"<{citation['url']}|{label}>" if citation.get("url") else label


def format_answer(result: dict) -> str:
    by_number = {c["n"]: c for c in result["citations"]}
    answer = _MARKER.sub(lambda m: _link(by_number[int(m.group(1))]) if int(m.group(1)) in by_number else m.group(0),
                         _escape(result["answer"]))
    parts = [answer]
    if result.get("provider") == "extractive":
        parts.insert(0, "_Extractive answer: sentences quoted from the library (no language model)._")
    for i, h in enumerate(result.get("hypotheses", []), start=1):
        prior = "; ".join(f"{_escape(w['title'])} ({w['similarity']:.2f})" for w in h["prior_work"][:2])
        prior = prior or "none found"
        parts.append(f"*Hypothesis {i}:* {_escape(h['statement'])}\n"
                     f"novelty {h['novelty']:.2f} · feasibility {h['feasibility']:.2f} · "
                     f"testability {h['testability']:.2f}\n"
                     f"_Prediction:_ {_escape(h['prediction'])}\n_Experiment:_ {_escape(h['experiment'])}\n"
                     f"_Closest prior work:_ {prior}")
    if result["citations"]:
        lines = [f"{_link(c)} {_escape(c['title'])}" + (f", p. {c['page']}" if c.get("page") else "")
                 + f" — “{_escape(c['quote'][:300])}”" for c in result["citations"]]
        parts.append("*References*\n" + "\n".join(lines))
    return "\n\n".join(parts)


def split_message(text: str, limit: int = SLACK_TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut between paragraphs (else between lines, else sentences)."""
    pieces: list[str] = []
    current = ""
    for paragraph in _units(text, limit):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
        else:
            pieces.append(current)
            current = paragraph
    if current:
        pieces.append(current)
    return pieces


def _units(text: str, limit: int) -> list[str]:
    units: list[str] = []
    for paragraph in text.split("\n\n"):
        if len(paragraph) <= limit:
            units.append(paragraph)
            continue
        for line in paragraph.split("\n"):
            if len(line) <= limit:
                units.append(line)
            else:  # a very long line: cut after a sentence end, never inside a <link|[n]>
                units.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+(?![^<]*>)", line) if s.strip())
    return units
