"""The model-free provider: an answer made of the evidence sentences that best answer the question.

Deterministic and honest by construction: every sentence it writes is quoted from a passage and
carries that passage's `[n]`, and it says so plainly when nothing in the evidence answers the question.
"""

from __future__ import annotations

from collections.abc import Iterator

from agent.citations import without_markers
from agent.evidence import Sentence, SentenceScorer, run_in_parts_of
from agent.prose import is_body_prose
from agent.sentence_types import sentence_type
from agent.settings import AnswerSettings
from retrieval.search import Passage
from tools.sections import sets_the_question_up

NO_EVIDENCE = ("I found no passage in the library that answers this question. "
               "Add papers on the topic (scisynth ingest PATH or scisynth fetch ARXIV_ID) and ask again.")


def _abstract_setups(scored: list[list[Sentence]]) -> set[int]:
    """The ids of the sentences in a structured abstract's Background, Objectives or Purpose: by their section
    ("Abstract > Objectives") or by a label run in before them in their paragraph ("BACKGROUND Diabetes is common.
    Statins are thought to ...", as PubMed prints an abstract as one paragraph: `run_in_parts_of`)."""
    setups = set()
    for sentences in scored:
        for sentence, part in zip(sentences, run_in_parts_of(sentences), strict=True):
            section = sentence.passage.section
            if part == "setting" or (section.lower().startswith("abstract") and sets_the_question_up(section)):
                setups.add(id(sentence))
    return setups


class ExtractiveComposer:
    name = "extractive"

    def __init__(self, scorer: SentenceScorer, quality: AnswerSettings | None = None) -> None:
        """`quality`: which sentences an answer may quote (agent/settings.py; default: the configured ones)."""
        quality = quality or AnswerSettings()
        self.scorer = scorer
        self.min_similarity = quality.quote_min_similarity
        self.min_evidence_ratio = quality.quote_min_evidence_ratio
        self.max_sentences = quality.answer_max_sentences
        self.per_passage = quality.sentences_per_passage
        self.duplicate_similarity = quality.duplicate_similarity
        self.rank_prior = quality.rank_prior

    def choose(self, question: str, passages: list[Passage]) -> list[tuple[int, Sentence]]:
        """The (passage number, sentence) pairs of the answer, in reading order."""
        scored = self.scorer.sentences(question, passages, judged_from=self.min_similarity)
        # Similar enough to be on topic (the calibrated floor), then ranked by the judge: a sentence that answers
        # comes before one that restates the question. A paper's statement of its own aim or hypothesis ("We
        # hypothesized that...") resembles the question most of all, and so does what a structured abstract's
        # Background or Objectives say (not a body's Introduction, which also states what the paper found and may be
        # what is asked about); they are quoted only when nothing else is, and never set the bar the ratio
        # measures from. A small prior for the retriever's ranking breaks near-ties in favour of the best passages.
        setups = _abstract_setups(scored)
        kinds = ((n, s, sentence_type(s.text)) for n, sentences in enumerate(scored, start=1) for s in sentences
                 if s.score >= self.min_similarity)
        candidates = sorted(((n, s, kind, kind.aim or id(s) in setups) for n, s, kind in kinds),
                            key=lambda row: (row[3], -(row[1].evidence + self.rank_prior / row[0])))
        chosen: list[tuple[int, Sentence]] = []
        for n, sentence, kind, setting in candidates:  # best first: the body-prose rule runs only on those considered
            if len(chosen) == self.max_sentences or (chosen and sentence.evidence < self.min_evidence_ratio
                                                     * chosen[0][1].evidence and not setting):
                break
            if ((setting and chosen) or sum(m == n for m, _ in chosen) >= self.per_passage
                    or self._repeats(sentence, chosen)):
                continue
            if is_body_prose(sentence.passage, sentence.text) and kind.quotable_as_answer:
                chosen.append((n, sentence))
        # Best passage first, sentences of one passage in their original order: it reads as prose.
        first_rank: dict[int, int] = {}
        for n, _ in chosen:
            first_rank.setdefault(n, len(first_rank))
        return sorted(chosen, key=lambda pair: (first_rank[pair[0]], pair[1].position))

    def _repeats(self, sentence: Sentence, chosen: list[tuple[int, Sentence]]) -> bool:
        return any(float(sentence.vector @ other.vector) > self.duplicate_similarity for _, other in chosen)

    def stream(self, question: str, passages: list[Passage], instructions: str = "") -> Iterator[str]:
        """The answer sentence by sentence. `instructions` cannot be followed without a model."""
        chosen = self.choose(question, passages)
        if not chosen:
            yield NO_EVIDENCE
            return
        for i, (n, sentence) in enumerate(chosen):
            # the paper's own numbered citations ("heart failure [13] and") would read as the answer's markers;
            # the reference quotes the sentence with them
            yield f"{' ' if i else ''}{without_markers(sentence.text)} [{n}]"

    def compose(self, question: str, passages: list[Passage], instructions: str = "") -> str:
        return "".join(self.stream(question, passages, instructions))

    def forget(self, question: str, passages: list[Passage], instructions: str = "") -> None:
        """Nothing to forget: the same evidence always gives the same extractive answer, and none is cached."""
