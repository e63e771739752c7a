"""One formatter for a turn's result, in the three dialects SciSynth speaks: plain text (the CLI),
Markdown (the OpenAI-compatible endpoint) and Slack mrkdwn. Same parts, same order, everywhere: how the
answer was made, the answer, the hypotheses, the references."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from agent.citations import MARKER
from agent.claim_check import ClaimCheck
from agent.contradictions import Contradictions, Side
from agent.turn import TurnResult


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters: `<!channel>`, `<url|label>` in paper text stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()!<>#|])")


def markdown_escape(text: str) -> str:
    """Markdown control characters backslash-escaped: a title or quote cannot become a link or an image."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


# What in an answer's own text could make a Markdown client run or fetch something: raw HTML (and autolinks), link
# and image syntax, and link reference definitions. Emphasis, lists and the [n] markers stay as written.
_ANSWER_ACTIVE = re.compile(r"[<>]|\]\(|!\[|\]:")
_ANSWER_NEUTRAL = {"<": "&lt;", ">": "&gt;", "](": "]\\(", "![": "!\\[", "]:": "]\\:"}


class AnswerGuard:
    """Makes an answer's text inert for Markdown clients as it streams: an answer quotes library text (a hostile
    PDF's `<img onerror>`, `[link](javascript:)` or `![](https://tracker)`) and a model may repeat it. A piece
    ending in `]` or `!` is held back until the next one shows whether it began a link."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        text, self._held = self._held + text, ""
        if text.endswith(("]", "!")):
            text, self._held = text[:-1], text[-1]
        return _ANSWER_ACTIVE.sub(lambda m: _ANSWER_NEUTRAL[m.group(0)], text)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


def inert_answer(text: str) -> str:
    """A whole answer made inert for Markdown clients (see AnswerGuard)."""
    guard = AnswerGuard()
    return guard.feed(text) + guard.flush()


@dataclass(frozen=True)
class Style:
    escape: Callable[[str], str]
    heading: Callable[[str], str]
    emphasis: Callable[[str], str]
    link: Callable[[str, str | None], str]  # (label, url) -> a link, or the label alone without a url
    bullet: str = ""
    page_link: Callable[[str, int, str], str | None] = lambda _paper, _page, _quote: None  # the page, highlighted


def _on_page(style: Style, paper_id: str, page: int | None, quote: str) -> str:
    """", p. 3", linked to the page with the quote highlighted where the style can."""
    return f", {style.link(f'p. {page}', style.page_link(paper_id, page, quote))}" if page else ""


TEXT = Style(escape=str, heading=str, emphasis=str, link=lambda label, _url: label)
MARKDOWN = Style(escape=markdown_escape, heading=lambda t: f"**{t}**", emphasis=lambda t: f"_{t}_",
                 link=lambda label, url: f"{label}({url})" if url else label, bullet="- ")
MRKDWN = Style(escape=slack_escape, heading=lambda t: f"*{t}*", emphasis=lambda t: f"_{t}_",
               link=lambda label, url: f"<{url}|{label}>" if url else label)


def how_made(result: TurnResult) -> str:
    """One line on how the answer was made, when it was not written by the configured model."""
    if result.provider == "extractive":
        note = "extractive answer: sentences quoted from your library, no language model"
        fell_back = [f["reason"] for f in result.fallbacks if f.get("step") == "answer"]
        return f"({note}; {fell_back[-1]})" if fell_back else f"({note})"
    return ""


def _answer(result: TurnResult, style: Style) -> str:
    """The answer with Slack citation links; in Markdown made inert (a model's own emphasis or lists may stay, but
    no answer can carry HTML, a link or an image a client would follow or fetch)."""
    by_number = {c["n"]: c for c in result.citations}
    if style is MARKDOWN:
        return inert_answer(result.answer)
    if style is not MRKDWN:
        return style.escape(result.answer)
    return MARKER.sub(lambda m: style.link(m.group(0), by_number[int(m.group(1))].get("url"))
                      if int(m.group(1)) in by_number else m.group(0), style.escape(result.answer))


def _score(name: str, value: object) -> str:
    return f"{name} {value:.2f}" if isinstance(value, int | float) else ""


def hypotheses_block(hypotheses: list[dict], style: Style) -> list[str]:
    blocks = []
    for i, h in enumerate(hypotheses, start=1):
        scores = " · ".join(s for s in (_score(name, h.get(name)) for name in ("novelty", "feasibility", "testability"))
                            if s)
        searched = h.get("novelty_searched")  # older stored answers do not say
        scores += f" (novelty against {searched})" if scores and searched and "only" in searched else ""
        none_found = f"none found in {searched}" if searched else "none found"
        prior = "; ".join(f"{style.escape(w['title'])} ({w['similarity']:.2f})" for w in h.get("prior_work", [])[:2])
        label = "Hypothesis" if h.get("kind") != "template" else "Template hypothesis (no model)"
        lines = [f"{style.heading(f'{label} {i}:')} {style.escape(h['statement'])}"]
        lines += [scores] if scores else []
        lines += [f"{style.emphasis('Why:')} {style.escape(h['rationale'])}",
                  f"{style.emphasis('Prediction:')} {style.escape(h['prediction'])}",
                  f"{style.emphasis('Experiment:')} {style.escape(h['experiment'])}",
                  f"{style.emphasis('Closest prior work:')} {prior or none_found}"]
        blocks.append("\n".join(lines))
    return blocks


OPEN_QUESTIONS_HEADING = "Open questions in your library (stated by the papers' authors)"


def open_questions_block(questions: list[dict], style: Style) -> str:
    """The open questions the papers state, grouped as the finder grouped them, each quoted and cited."""
    if not questions:
        return ""
    lines = [style.heading(OPEN_QUESTIONS_HEADING)]
    for group in dict.fromkeys(q["group"] for q in questions):
        lines.append(style.emphasis(f"{style.escape(group)}:"))
        for q in (q for q in questions if q["group"] == group):
            where = f"{style.escape(q['title'])}, {style.escape(q['section'])}" + (f", p. {q['page']}" if q.get("page")
                                                                                  else "")
            lines.append(f"{style.bullet or '  '}[{q['n']}] ({q['kind']}) “{style.escape(q['text'])}” — {where}")
    return "\n".join(lines)


def references_block(citations: list[dict], style: Style) -> str:
    if not citations:
        return ""
    lines = [f"{style.bullet}{style.link('[' + str(c['n']) + ']', c.get('url'))} {style.escape(c['title'])}"
             + (f" ({style.escape(c['byline'])})" if c.get("byline") else "") + " — "
             f"{style.escape(c['section'])}{_on_page(style, c['paper_id'], c.get('page'), c['quote'])}: "
             f"“{style.escape(c['quote'])}”" + "".join(
                 f" … “{style.escape(q['quote'])}”" + (_on_page(style, c['paper_id'], q['page'], q['quote'])
                                                       if q.get('page') != c.get('page') else "")
                 for q in c.get("also", [])) for c in citations]
    return style.heading("References") + "\n" + "\n".join(lines)


def format_result(result: TurnResult, style: Style = TEXT) -> str:
    """The whole reply: how it was made, the answer, hypotheses, references (empty parts left out)."""
    return "\n\n".join(part for part in [how_made(result), _answer(result, style), after_answer(result, style)]
                       if part)


def after_answer(result: TurnResult, style: Style) -> str:
    """What follows the answer: open questions, hypotheses, references (what a stream sends after the answer)."""
    parts = [open_questions_block(list(result.open_questions), style),
             *hypotheses_block(list(result.hypotheses), style),
             style.escape(result.hypotheses_note),
             references_block(list(result.citations), style)]
    return "\n\n".join(part for part in parts if part)


def format_check(result: ClaimCheck, style: Style = TEXT) -> str:
    """A claim check as a reader reads it: the verdict and consensus, each paper that bears on the claim with its
    quotes, then those that do not address it."""
    lines = [f"{style.heading('Claim:')} {style.escape(result.claim)}",
             f"{style.heading('Verdict:')} {result.verdict} ({result.consensus()})"]
    for paper in (p for p in result.papers if p.stance != "insufficient"):
        confidence = f", confidence {paper.confidence:.2f}" if paper.confidence is not None else ""
        lines.append("")
        lines.append(f"{style.bullet}{style.emphasis(paper.stance.upper() + confidence)}: "
                     f"{style.escape(paper.title)} ({style.escape(paper.byline or str(paper.year or 'n.d.'))}) "
                     f"[{style.escape(paper.paper_id)}]")
        lines += [f"  [{q.n}] \u201c{style.escape(q.quote)}\u201d ({style.escape(q.section or 'text')}"
                  f"{_on_page(style, paper.paper_id, q.page, q.quote)})" for q in paper.rationale]
    silent = [f"{style.escape(p.title)} ({style.escape(p.byline or str(p.year or 'n.d.'))})" for p in result.papers
              if p.stance == "insufficient"]
    if silent:
        lines += ["", "Do not address it: " + "; ".join(silent)]
    if not result.papers:
        lines.append("No paper in the library matches the claim: add papers, or loosen the paper and year filters.")
    return "\n".join(lines)


def _side(side: Side, style: Style) -> str:
    where = f"{side.section or 'text'}{f', p. {side.page}' if side.page else ''}"
    return (f"  {style.escape(side.title)} ({side.year or 'n.d.'}), {style.escape(where)}:\n"
            f"    \u201c{style.escape(side.quote)}\u201d")


def format_contradictions(result: Contradictions, style: Style = TEXT) -> str:
    """Each pair of disagreeing findings, most confident first, both sides quoted with their pages."""
    if not result.pairs:
        return (f"No two papers' findings on \u201c{style.escape(result.topic)}\u201d read as contradicting each "
                f"other ({result.trace[-1]}).")
    blocks = [f"{style.heading(f'{i}. disagreement {pair.confidence:.2f}')} (the findings are {pair.similarity:.2f} "
              f"alike)\n{_side(pair.first, style)}\n{_side(pair.second, style)}"
              for i, pair in enumerate(result.pairs, start=1)]
    return "\n\n".join(blocks)
