"""Evidence tables: papers as rows, the researcher's questions as columns, every cell a verbatim quote of *that
paper* with its page and section, or "not reported".

A cell reads the paper's passages that are closest to the column's question (at most `per_paper`, in reading
order, as a claim check reads a paper), and the evidence judge rates each of their sentences. How the cell decides
that the paper reports it depends on the column:

- a *specific* question ("What F1 does the model reach on SciERC?", a claim) is answered by a finding: the cell
  reads the paper's sentences that may state one (`is_own_finding`: not its background, aims, methods or what
  earlier work showed) and is reported when the stance classifier's first stage, reading the judge's two best of
  them, says the paper bears on it (agent/stance.py, trained on SciFact train against retrieved abstracts that do
  not), at the threshold chosen for tables on SciFact train (F0.5 of cells that quote a gold rationale: a wrong
  quote costs a reader more than a "not reported"); the cell quotes the judge's best of them;
- a *generic* column (a preset's, or a question of at most GENERIC_WORDS content words: "Sample size?") names a
  kind of information every paper may hold, so the paper's own words rarely cover it. A column asking for a value
  (a count, a number, a design, a metric, a dataset) quotes the sentence the judge rates best among those from
  which such a value can be read, at least `value_floor` similar (a generic question is far from every sentence:
  the value decides): for a result not a method's setting nor a background's figure, for a count the abstract's
  when it states one (the body counts subgroups too). Any other generic column ("Population") quotes the judge's
  best sentence when the judge gives it at least `judge_floor`, or, below that, when a configured model reads an
  answer in it that the sentence bears out (without a model such a cell is "not read"). A short question of a known
  kind is read with that kind's question (`KIND_QUESTIONS`: "Sample size?" asks how many were included).

A short value is read off the quote (agent/cell_values.py) or, with a configured model, written by the model from
the quote and kept only when the quote bears it out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from agent.cell_values import ValueKind, asks_for_beings, counts_beings, kind_of, read_value, supported
from agent.citations import byline
from agent.evidence import Sentence, SentenceScorer, run_in_parts_of
from agent.keywords import content_words
from agent.llm.structured import ModelStepError, ask_json
from agent.prose import is_publishing_matter
from agent.sentence_types import is_own_finding, sentence_type
from agent.stance import StanceClassifier, rate, rationale_rows, stance_features
from prompts import render
from retrieval.search import HybridSearcher, Passage
from store.catalog import PaperRow
from tools.sections import (
    describes_methods,
    has_run_in_parts,
    in_part,
    is_back_matter,
    opens_part,
    sets_the_question_up,
    states_the_whole_study,
)

MAX_COLUMNS = 12
MAX_ROWS = 50
MAX_COLUMN_CHARS = 300
MAX_PASSAGES_SEARCHED = 2000  # how far a query's ranking is read to find its best papers
GENERIC_WORDS = 2  # a question with no value kind and at most this many content words names a kind of information
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Column:
    """`name` heads the column; `question` is what the paper's sentences are judged against; `kind` the value
    read off the quote; `generic`: it asks for a kind of information, not about a specific finding."""

    name: str
    question: str
    kind: ValueKind = "text"
    generic: bool = True

    @classmethod
    def asking(cls, question: str) -> Column:
        """A researcher's own column: its question is its name (control characters dropped)."""
        text = " ".join(_CONTROL.sub(" ", question).split())
        if not text:
            raise ValueError("a column is empty: write a question, e.g. \"Sample size?\"")
        if len(text) > MAX_COLUMN_CHARS:
            raise ValueError(f"a column is {len(text)} characters: write a question of at most {MAX_COLUMN_CHARS}")
        kind = kind_of(text)
        words = {w.lower() for w in content_words(text)}
        # "Sample size?" asks for a kind of information; "What was the mean age?" names its own subject (age)
        generic = (words <= KIND_WORDS[kind] | _FRAMING) if kind != "text" else len(words) <= GENERIC_WORDS
        asked = f"{text} {KIND_QUESTIONS[kind]}" if generic and kind in KIND_QUESTIONS else text
        return cls(text, asked, kind, generic)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FRAMING = frozenset({"main", "primary", "key", "reported", "report", "used", "given", "overall", "value", "values"})
# the words that only name a column's kind: a question made of nothing else asks for that kind in any paper
KIND_WORDS: dict[ValueKind, frozenset[str]] = {
    "count": frozenset({"sample", "size", "number", "participants", "patients", "subjects", "people", "animals",
                        "samples", "cases", "enrolled", "included", "n"}),
    "dataset": frozenset({"dataset", "datasets", "data", "set", "sets", "corpus", "corpora", "benchmark",
                          "benchmarks", "evaluation", "training"}),
    "metric": frozenset({"metric", "metrics", "measure", "measures", "evaluation", "measured"}),
    "design": frozenset({"design", "study", "type", "kind", "method", "methods"}),
    "test": frozenset({"statistical", "test", "tests", "analysis", "analyses", "method", "methods", "model", "models",
                       "analysed", "analyzed", "data"}),
    "number": frozenset({"result", "results", "outcome", "outcomes", "effect", "performance", "finding",
                         "findings", "score", "scores", "size"}),
    "text": frozenset(),
}
KIND_QUESTIONS: dict[ValueKind, str] = {
    "count": "How many participants, patients, animals or samples were included?",
    "dataset": "Which dataset, corpus or benchmark is used?",
    "metric": "Which evaluation metric is reported?",
    "design": "What was the study design?",
    "test": "Which statistical test or model was used to analyse the data?",
    "number": "What was the main quantitative result?",
}
PRESETS: dict[str, tuple[Column, ...]] = {
    "clinical": (
        Column("Population", "Which patients, participants or animals were studied, with their condition and "
                             "setting?"),
        Column("Intervention", "Which intervention, treatment or exposure was given or studied?"),
        Column("Comparator", "What was the intervention compared with: placebo, usual care or a control group?"),
        Column("Outcome", "Which outcome was measured, and what was the main result?", "number"),
        Column("Sample size", "How many participants, patients or animals were included in the study?", "count"),
        Column("Design", "What was the study design: randomized controlled trial, cohort, case-control or "
                         "cross-sectional study?", "design"),
    ),
    "ml": (
        Column("Task", "Which task or problem does the paper address?"),
        Column("Dataset", "Which dataset, corpus or benchmark is used for training or evaluation?", "dataset"),
        Column("Model", "Which model, method or architecture does the paper propose?"),
        Column("Metric", "Which evaluation metric is reported: accuracy, F1, BLEU?", "metric"),
        Column("Result", "What is the main quantitative result compared with the baselines?", "number"),
    ),
}


def columns_for(questions: list[str] | None, preset: str | None) -> list[Column]:
    """The preset's columns, then the researcher's own; ValueError saying what to write instead."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"no preset {preset!r}: choose one of {', '.join(PRESETS)}")
    columns = [*PRESETS.get(preset or "", ()), *(Column.asking(q) for q in questions or [])]
    if not columns:
        raise ValueError(f"a table needs columns: questions (--column QUESTION) or a preset ({', '.join(PRESETS)})")
    if len(columns) > MAX_COLUMNS:
        raise ValueError(f"{len(columns)} columns: a table has at most {MAX_COLUMNS}")
    names = [" ".join(_WORDS.findall(c.name.lower())) for c in columns]
    if len(set(names)) < len(names):
        twice = next(c.name for c, n in zip(columns, names, strict=True) if names.count(n) > 1)
        raise ValueError(f"two columns ask {twice!r} (a preset's included): ask each question once")
    return columns


class Cell(BaseModel):
    column: str
    value: str | None  # a short value read off the quote (or written by a model from it), when there is one
    quote: str | None  # verbatim from the paper; None when not reported
    page: int | None
    section: str | None
    reported: bool
    # how sure the cell is: for a specific question P(the paper bears on it), the classifier's first stage; for a
    # generic column the evidence judge's probability that the quoted sentence answers it
    confidence: float
    passage: str | None  # the quoted passage, for a reader who wants the context
    note: str | None = None  # why a cell was not read ("needs a model"), beside reported false


class Row(BaseModel):
    paper_id: str
    title: str
    year: int | None
    cells: list[Cell]
    byline: str = ""  # who wrote it and when, as a reference list shortens it ("Vedovato et al. 2024")


class EvidenceTable(BaseModel):
    columns: list[str]
    rows: list[Row]
    trace: list[str]


class CellValue(BaseModel):
    value: str | None = None


def _subtitle(title: str) -> str:
    """What follows a title's last colon or dash ("Aspirin and stroke: a randomised trial"), or "" when it has none."""
    parts = re.split(r":\s|\s[—–-]\s", title)
    return parts[-1] if len(parts) > 1 else ""


def may_state(kind: ValueKind, text: str, section: str = "") -> bool:
    """Whether a sentence may give a value of this kind: never from back matter (references, "Authors'
    contributions") nor the publisher's (a manuscript's history, a licence); a result (a number asked for) is not a
    method's setting ("a significance level of 5% was used", a bench protocol, anything in a Methods part) or
    another paper's finding; counts, designs, metrics and datasets are what methods sentences state; nothing is read
    out of an abstract's background (its section, or its label run in), nor a design or a result out of an
    introduction (which may name the paper's own datasets and metrics, not its findings). (Sentences
    about earlier work were left in for designs: the cue also fires on a finding's own citation, "included in the
    current meta-analysis (Zhao et al. 2015)".)"""
    if is_back_matter(section) or is_publishing_matter(text):  # nor "Received: 4 September 2013 ..."
        return False
    abstract_setting = has_run_in_parts(section) and (sets_the_question_up(section)
                                                      or opens_part(text, section) == "setting")
    if abstract_setting or (kind in ("design", "number") and sets_the_question_up(section)):
        return False  # "BACKGROUND Dementia affects 50 million people"; an introduction's designs and figures
    if kind != "number":
        return True
    cues = sentence_type(text)
    return not (cues.method or cues.prior_work or cues.question or cues.instruction or _PROTOCOL.search(text)
                or describes_methods(section) or opens_part(text, section) == "methods")


# a bench protocol ("run at 50°C for 2 min", "stored at −80°C", "spun at 12,000 × g", "40 cycles of"): its numbers
# are settings, no result
_PROTOCOL = re.compile(r"\d\s*°\s*C\s+(?:for|overnight)\b|\d\s*rpm\b|\d\s*[x×]\s*g\b|\bcycles of\b|\b(?:were|was) "
                       r"(?:stored|run|kept|frozen|fixed|homogeni[sz]ed|spun|heated|boiled|washed|pelleted|lysed|"
                       r"digested|sonicated|shaken|vortexed|autoclaved|sterili[sz]ed)\b", re.IGNORECASE)


def table_row_in_context(passage: Passage, text: str) -> str:
    """A table row ("| ... |") with the caption and header row of its table, which every chunk of a table starts
    with (retrieval/chunking.py); any other sentence as it is."""
    if not text.startswith("|"):
        return text
    lines = passage.text.splitlines()
    first_row = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if first_row is None or lines[first_row].strip() == text.strip():
        return text
    caption = " ".join(line.strip() for line in lines[:first_row] if line.strip())
    return f"{caption} {lines[first_row].strip()} {text}".strip()


def _sections(sentences: list[Sentence]) -> list[str]:
    """Each sentence's section, with the structured-abstract part a label run in before it opened
    (`run_in_parts_of`: "BACKGROUND Diabetes is common. Statins are thought to ..." are both "... > Background")."""
    return [in_part(s.passage.section, part) for s, part in zip(sentences, run_in_parts_of(sentences), strict=True)]


def _findings_or_rows(sentences: list[Sentence], sections: list[str]) -> list[bool]:
    """Which sentences may answer a claim: the paper's own findings (`is_own_finding` in their `sections`), and a
    table's rows ("| ... |": data, not a finding in words) unless their table sits in back matter, a Methods part or
    a Background."""
    return [is_own_finding(s.text, section) or (s.text.startswith("|") and not (
        is_back_matter(section) or describes_methods(section) or sets_the_question_up(section)))
        for s, section in zip(sentences, sections, strict=True)]


@dataclass
class ModelBudget:
    """One table's model calls: at most `per_row` values a row are written by the model (None: no cap), so a
    long table neither costs without end nor leaves its last rows unread while the first took every call."""

    per_row: int | None
    in_row: int = 0
    calls: int = 0
    unusable: int = 0
    refused: int = 0  # cells a model would have read, over the budget

    def next_row(self) -> None:
        self.in_row = 0

    def take(self) -> bool:
        if self.per_row is not None and self.in_row >= self.per_row:
            self.refused += 1
            return False
        self.in_row += 1
        self.calls += 1
        return True

    def summary(self) -> str:
        said = f"values written by the model for {self.calls} cells"
        if self.unusable:
            said += f", {self.unusable} unusable (read off the quote)"
        if self.refused:
            said += f"; {self.refused} cells over the budget of {self.per_row} a row (SCISYNTH_MAX_LLM_CALLS)"
        return said


NEEDS_MODEL = ("not read: no value pattern reads this column, and the evidence judge is not sure of any sentence "
               "(it rates none at its floor); a configured model reads its best")
OVER_BUDGET = "not read: the model's calls for this row were used up (SCISYNTH_MAX_LLM_CALLS)"


@dataclass
class TableBuilder:
    """Builds tables over the library. `threshold`: P(reported) at or above which a cell of a specific
    question quotes the paper (default: the stance classifier's table threshold, chosen on SciFact train);
    `max_model_calls`: at most this many cells of a row have their values written by the model (the rest are read
    off their quotes). Holds no state of a table: tables may be built at once in several threads."""

    searcher: HybridSearcher
    scorer: SentenceScorer
    classifier: StanceClassifier
    model: BaseChatModel | None = None
    max_model_calls: int | None = None
    per_paper: int = 8
    threshold: float | None = None
    value_floor: float = 0.1
    judge_floor: float = 0.5

    def papers_for(self, query: str, n: int) -> list[str]:
        """The `n` papers whose passages rank highest for the query (fewer when the library has fewer)."""
        if not query.strip():
            raise ValueError("the query is blank: write what the papers should be about")
        k = max(30, 20 * n)
        while True:  # a long paper can fill the first passages alone: read further until n papers or the end
            found = self.searcher.search(query, k=k)
            papers = list(dict.fromkeys(p.paper_id for p in found))
            if len(papers) >= n or len(found) < k or k >= MAX_PASSAGES_SEARCHED:
                return papers[:n]
            k = min(4 * k, MAX_PASSAGES_SEARCHED)

    def known(self, paper_ids: list[str]) -> list[PaperRow]:
        """The papers of these ids, each once, when they can be a table's rows; ValueError saying what is wrong
        otherwise."""
        paper_ids = list(dict.fromkeys(paper_ids))
        if not paper_ids:
            raise ValueError("a table needs papers: paper ids, a query, a conversation that cites papers or a watch "
                             "that has added some")
        if len(paper_ids) > MAX_ROWS:
            raise ValueError(f"{len(paper_ids)} papers: a table has at most {MAX_ROWS} rows")
        found = {p: self.searcher.catalog.find_paper(p) for p in paper_ids}
        missing = [p for p, paper in found.items() if paper is None]
        if missing:
            raise ValueError(f"not in the library: {', '.join(repr(p) for p in missing[:5])} (the library lists "
                             "paper ids)")
        return [paper for paper in found.values() if paper is not None]

    def build(self, paper_ids: list[str], columns: list[Column], on_row: Callable[[Row], None] | None = None
              ) -> EvidenceTable:
        """One row per paper (in the order given), one cell per column; `on_row` hears of each row as it is done.
        ValueError when a paper is not in the library, or there are no papers or too many."""
        papers = self.known(paper_ids)
        started = time.perf_counter()
        budget = ModelBudget(self.max_model_calls) if self.model is not None else None
        rows = []
        for paper in papers:
            if budget:
                budget.next_row()
            row = self._row(paper, columns, budget)
            rows.append(row)
            if on_row:
                on_row(row)
        reported = sum(c.reported for r in rows for c in r.cells)
        unread = sum(c.note is not None for r in rows for c in r.cells)
        trace = [f"{len(rows)} papers x {len(columns)} columns: {reported} cells reported, "
                 f"{len(rows) * len(columns) - reported - unread} not reported"
                 f"{f', {unread} not read (they need a model)' if unread else ''}, "
                 f"in {time.perf_counter() - started:.2f} s"]
        if budget:
            trace.append(budget.summary())
        return EvidenceTable(columns=[c.name for c in columns], rows=rows, trace=trace)

    def _row(self, paper: PaperRow, columns: list[Column], budget: ModelBudget | None) -> Row:
        passages = self.searcher.paper_passages([paper.paper_id])
        return Row(paper_id=paper.paper_id, title=paper.title, year=paper.year,
                   byline=byline(paper.authors, paper.year), cells=[self.cell(c, passages, budget) for c in columns])

    def cell(self, column: Column, passages: list[Passage], budget: ModelBudget | None = None) -> Cell:
        """The column's cell for one paper, given all its passages; `budget`: the model's calls left (None: no
        model writes)."""
        nothing = Cell(column=column.name, value=None, quote=None, page=None, section=None, reported=False,
                       confidence=0.0, passage=None)
        read = self.scorer.read(column.question, self._read_for(column, passages)) if passages else []
        sentences: list[Sentence] = [s for scored in read for s in scored]
        if not sentences:  # a reference without text: nothing to quote
            return nothing
        texts, cosines = self._in_context(column.question, sentences)
        evidence = rate(self.scorer.judge, column.question, texts, cosines, [len(scored) for scored in read])
        chosen, chance = self._choose(column, sentences, texts, cosines, evidence)
        value, note = None, None
        if chosen is None and column.generic and column.kind == "text":
            # no value pattern says what a "Population" is: a model may read the judge's best sentence for it
            chosen = int(np.argmax(evidence))
            chance = float(evidence[chosen])
            refused = budget.refused if budget else 0
            value = self._written(column, sentences[chosen].text, budget)
            if value is None:
                note = NEEDS_MODEL if budget is None else OVER_BUDGET if budget.refused > refused else None
                chosen = None
        if chosen is None and column.kind == "design" and (named := read_value("design", _subtitle(passages[0].title))):
            # no sentence names it, but the title's subtitle does ("...: a randomised, double-blind phase 3 trial";
            # not "A survey of deep learning ...", "Cohort effects in ...")
            return Cell(column=column.name, value=named, quote=passages[0].title, page=passages[0].page_start,
                        section="Title", reported=True, confidence=1.0, passage=passages[0].title)
        if chosen is None:
            return nothing.model_copy(update={"confidence": round(chance, 3), "note": note})
        best = sentences[chosen]
        return Cell(column=column.name, value=value or self._value(column, best.text, budget), quote=best.text,
                    page=best.passage.page_of(best.start), section=best.passage.section, reported=True,
                    confidence=round(chance, 3), passage=best.passage.text)

    def _in_context(self, question: str, sentences: list[Sentence]) -> tuple[list[str], np.ndarray]:
        """Each sentence's text as it is judged, and its similarity to the question. A table row is read with its
        table's caption and header ("| Total | 0.97 |" says nothing alone); its similarity is the mean of the row's
        in context (which table) and alone (which row of it). The cell still quotes the row."""
        texts = [table_row_in_context(s.passage, s.text) for s in sentences]
        cosines = np.array([s.score for s in sentences], dtype=np.float32)
        rows = [i for i, s in enumerate(sentences) if texts[i] != s.text]
        if rows:
            cosines[rows] = (cosines[rows] + self.scorer.similarities(question, [texts[i] for i in rows])) / 2
        return texts, cosines

    def _choose(self, column: Column, sentences: list[Sentence], texts: list[str], cosines: np.ndarray,
                evidence: np.ndarray) -> tuple[int | None, float]:
        """The sentence the cell quotes (None: not reported) and how sure the choice is (see the module); `texts`
        are the sentences as judged (table rows in context)."""
        best = int(np.argmax(evidence))
        if not column.generic:
            eligible = _findings_or_rows(sentences, _sections(sentences))
            if not any(eligible):
                return None, 0.0
            rows = rationale_rows(evidence, eligible)
            features = stance_features(column.question, texts, evidence, cosines, rows)
            chance = self.classifier.evidence.probability(features)
            threshold = next(t for t in (self.threshold, self.classifier.table_threshold,
                                         self.classifier.evidence_threshold) if t is not None)
            return (max(rows, key=lambda i: float(evidence[i])) if chance >= threshold else None), chance
        if column.kind == "text":
            chance = float(evidence[best])
            return (best if chance >= self.judge_floor else None), chance
        sections = _sections(sentences)
        valued = [i for i, sentence in enumerate(sentences) if cosines[i] >= self.value_floor
                  and read_value(column.kind, sentence.text) is not None
                  and may_state(column.kind, sentence.text, sections[i])]
        if column.kind == "count":  # the abstract states the whole study's sample; the body its subgroups too
            valued = [i for i in valued if states_the_whole_study(sentences[i].passage.section)] or valued
        if not valued:
            return None, 0.0
        # a sample size is who was studied: a count of people or animals before a count of things ("56 questions")
        beings = column.kind == "count" and asks_for_beings(column.question)
        chosen = max(valued, key=lambda i: (beings and counts_beings(sentences[i].text), float(evidence[i]),
                                            float(cosines[i])))
        return chosen, float(evidence[chosen])

    def _read_for(self, column: Column, passages: list[Passage]) -> list[Passage]:
        """The `per_paper` passages whose best sentence is most similar to the column's question; for a count, the
        abstract's too (see `_choose`)."""
        closest = passages if len(passages) <= self.per_paper else [
            p for p, _ in self.scorer.rank_passages(column.question, passages)[:self.per_paper]]
        if column.kind != "count":
            return closest
        read = {p.chunk_id for p in closest}
        return closest + [p for p in passages if states_the_whole_study(p.section) and p.chunk_id not in read]

    def _value(self, column: Column, quote: str, budget: ModelBudget | None) -> str | None:
        """The model's value when one is configured (within budget) and the quote bears it out, else the value
        read off the quote."""
        return self._written(column, quote, budget) or read_value(column.kind, quote)

    def _written(self, column: Column, quote: str, budget: ModelBudget | None) -> str | None:
        """The value a configured model writes from the quote, when within budget and the quote bears it out."""
        if self.model is None or budget is None or not budget.take():
            return None
        try:
            written = ask_json(self.model, [HumanMessage(render("table_cell", question=column.question,
                                                                quote=quote))], CellValue).value
        except ModelStepError:
            written = None
            budget.unusable += 1
        if written is not None and not supported(written, quote):
            budget.unusable += 1
            written = None
        return " ".join(written.split())[:200] if written else None
