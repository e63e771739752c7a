"""Long Slack messages split at paragraph boundaries, so a citation link is never cut in two (the
answer itself is formatted by api/answers.py in Slack's mrkdwn)."""

from __future__ import annotations

import re

SLACK_TEXT_LIMIT = 3500  # characters per message; Slack renders up to 4,000 comfortably


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
