"""Which sections of a paper hold its research, and which are back matter (References, Acknowledgements, Funding,
Author contributions...): the one rule for the parsers (no run-in headings in back matter) and for the agent
(no findings quoted from it)."""

from __future__ import annotations

import re

HEADING_NUMBER = r"(?:[\dIVXivx]+(?:\.\d+)*\.?\s+)?"  # a heading's number: "1 ", "2.1 ", "IV. "

# Sections whose sentences are not findings, matched against every part of a section path ("A > B"): the start
# of a part is enough ("Declaration of Competing Interest", "Funding Statement", "Acknowledgements and Funding"),
# but not of a results part that starts alike ("Competing risk analysis", "Disclosure of HIV status",
# "Availability of naloxone in pharmacies").
_BACK_MATTER = (
    r"references?\b|bibliography|works cited|literature cited|"
    r"acknowledge?ments?|funding(?!\s+(?:implications?|polic(?:y|ies)|models?|decisions?)\b)|"
    r"sources? of (?:support|funding)|disclaimers?|financial (?:support|disclosure)|"
    r"author(?:s?['’]?s?)? (?:details|contributions?|"
    r"information|summary|statement)|credit authorship|competing (?:interests?|financial)|conflicts? of interest|"
    r"declarations?\b|disclosures?\s*$|disclosures? (?:statement|of (?:potential )?conflicts?)|ethic|"
    r"informed consent|consent for publication|availability of (?:data|materials?|code|software|supporting)|"
    r"data availability|"
    r"code availability|supplementary (?:materials?|information|data|files?|figures?|tables?)|supporting information|"
    r"additional files?|additional information|(?:list of )?abbreviations|pre-?publication history|footnotes|notes\s*$|"
    r"publisher'?s note|appended by the publisher")
_FLOATS = (r"(?:figure|table|scheme|plate)s?\s+[A-Z]?[\dIVX]+\b|captions?\s*$|"
           r"(?:figures?|tables?|schemes?)(?:\s+(?:legends?|and tables|and figures))?\s*$")
NOT_BODY_SECTION = re.compile(rf"^{HEADING_NUMBER}(?:{_BACK_MATTER}|{_FLOATS})", re.IGNORECASE)
_BACK_MATTER_SECTION = re.compile(rf"^{HEADING_NUMBER}(?:{_BACK_MATTER})", re.IGNORECASE)


# The parts nearly every paper has, at its top level whatever it numbers or prints them like (a heading's name:
# lower case, numbering stripped).
PAPER_PART = re.compile(r"^(?:introduction|background|(?:materials and |experimental )?methods?|results|discussion|"
                        r"conclusions?|results and discussion|references|acknowledge?ments?)$")


# What a publisher appends after the reference list: the open peer review (F1000Research, eLife, BMJ Open, PeerJ:
# referee reports and the authors' responses) or a download cover sheet (the journal's services). Its sections go
# under APPENDED, which is back matter: a reviewer's opinion is not a finding. Generic phrases must be the whole
# heading ("Peer review", not "Peer review of electronic search strategies", an appendix of a systematic review);
# the readers look for these only after a paper's parts and its reference list (a cover sheet may come first). A
# title repeated after the list is not taken for a cover sheet: a supplement may open with it.
APPENDED = "Appended by the publisher"
_OPENS_APPENDED = re.compile(
    rf"^{HEADING_NUMBER}(?:(?:(?:open )?peer[- ]review(?: history| reports?| file)?|review history|"
    r"decision letter|elife assessment|authors?['’]? responses?(?: \d.*)?|point-by-point response)\s*:?\s*$|"
    r"(?:current )?referee (?:reports?|status)\b|reviewers?['’]? (?:reports?|comments?)\b|reviewer\s*#?\s*\d+\b|"
    r"(?:responses?|repl(?:y|ies)) to (?:the )?reviewers?\b|version \d+\s*[-–]\s*review\b|"
    r"updated information and services\b|email alerting service\b)", re.IGNORECASE)


def opens_appended_matter(heading: str) -> bool:
    """Whether a heading met after the paper's parts and its reference list opens what the publisher appended.
    (Before the list, a section on peer review is the paper's own.)"""
    return bool(_OPENS_APPENDED.match(heading.strip()))


# The parts of a paper that set its question up rather than answer it: a structured abstract's Background and
# Objectives restate a question's subject (the evidence judge rates them high), its Results answer it.
_SETTING = r"(?:background|introduction|objectives?|aims?|purposes?|rationale|context|importance|hypothes[ie]s)"
_SETTING_SECTION = re.compile(
    rf"(?:^|>)\s*{HEADING_NUMBER}(?:study )?{_SETTING}(?:\s*(?:and|&|/)\s*{_SETTING})?\s*[:.]?\s*(?:>|$)",
    re.IGNORECASE)


# A structured abstract printed as running text opens a part with its label run in: "BACKGROUND Patients with
# diabetes ...", "Objective: To assess ...", "Background Blindness is common ...", "PATIENTS AND METHODS During a
# 12-year period ...", JAMA's "Design, Setting, and Participants Prospective cohort ...", Cochrane's "Main results We
# included 39 trials". A label is a run of label words that does not start with a glue word, read (1) in upper case
# (before a lower-case word only when it is more than one short word: "AIMS scores fell" is a sentence), (2) in any
# case before a colon, (3) capitalised, before a capitalised word that a lower-case word follows ("Objective
# Structured Clinical Examination scores ...", "Background Parenchymal Enhancement ..." name things) or, within a
# structured abstract already (`inside`), before any capitalised word or number (BMJ's "Design Prospective cohort
# study.", "Setting 312 general practices"); outside one, a single capitalised word only if it is one that opens
# abstracts (`_OPENING_WORDS`). A label naming results ("METHODOLOGY/PRINCIPAL FINDINGS", "MEASUREMENTS
# AND MAIN RESULTS", "Conclusions and Relevance", "OBSERVATIONS") opens results; one naming methods with the
# background ("BACKGROUND AND METHODS") opens methods.
_SETTING_WORDS = "background|introduction|objectives?|aims?|purposes?|rationale|context|importance|hypothes[ie]s"
_METHODS_WORDS = ("methods?|methodology|design|settings?|participants|patients|subjects|materials?|interventions?|"
                  "exposures?|outcomes?|measures?|measurements|sources|selection|extraction|acquisition|population|"
                  "search|criteria|collection|analysis|approach|review")
_RESULTS_WORDS = ("results|findings|conclusions?|interpretation|discussion|significance|limitations|synthesis|"
                  "relevance|observations|implications|case|presentation|reports?")
_QUALIFIERS = "study|main|primary|principal|key|data|evidence|research|experimental|authors'?"  # may open a label
_FIRST_WORD = f"{_SETTING_WORDS}|{_METHODS_WORDS}|{_RESULTS_WORDS}|{_QUALIFIERS}"
_LABEL_WORD = f"{_FIRST_WORD}|and|of|the|this"  # glue words: never a label's first
_JOIN = r"(?:\s*[,/&]\s*|\s+)"
_UPPER_LABEL = rf"(?:{_FIRST_WORD.upper()})(?:{_JOIN}(?:{_LABEL_WORD.upper()}))*"
_ANY_LABEL = rf"(?i:{_FIRST_WORD})(?:{_JOIN}(?i:{_LABEL_WORD}))*"
_CAPITALISED_LABEL = rf"(?=[A-Z])(?i:{_FIRST_WORD})(?:{_JOIN}(?i:{_LABEL_WORD}))*"
_OPENING = re.compile(
    rf"^\W*(?:(?P<upper>{_UPPER_LABEL})\s*[:.]?\s+(?:[A-Z0-9(]|(?<=[A-Z]{{5}}\s)\w|(?<=[A-Z][^a-z]{{5}}\s)\w)|"
    rf"(?P<colon>{_ANY_LABEL})\s*[:.]\s*\w|"
    rf"(?P<capitalised>{_CAPITALISED_LABEL})\s+(?=[A-Z0-9])(?P<next>\S+\s+\S))")
# the single capitalised words that open an abstract's part wherever they stand ("Importance Sampling reduced ...",
# "Materials Project data ..." are sentences)
_OPENING_WORDS = frozenset({"background", "introduction", "objective", "objectives", "aim", "aims", "purpose",
                            "method", "methods", "results", "conclusion", "conclusions", "findings", "interpretation"})
_OPENING_ONLY = re.compile(rf"^\W*(?P<alone>{_ANY_LABEL})\s*[:.]?\s*$")  # a label set as a line of its own
_PART_WORDS = {"results": re.compile(rf"\b(?:{_RESULTS_WORDS})\b", re.IGNORECASE),
               "methods": re.compile(rf"\b(?:{_METHODS_WORDS})\b", re.IGNORECASE),
               "setting": re.compile(rf"\b(?:{_SETTING_WORDS})\b", re.IGNORECASE)}
RUN_IN_CHARS = 100  # a run-in label sits at a sentence's start: read no further (the patterns backtrack on long runs)
_PART_HEADINGS = {"setting": "Background", "methods": "Methods", "results": "Results"}


def run_in_part(text: str, inside: bool = False) -> str | None:
    """The part of a structured abstract a sentence opens with its label run in: "setting", "methods" or
    "results" (see above; `inside`: a structured abstract's part is open already); None when it opens none."""
    start = text[:RUN_IN_CHARS]
    found = _OPENING.match(start) or _OPENING_ONLY.match(start)
    if not found:
        return None
    label = next(group for group in found.groups() if group)
    if found.lastgroup == "next" and not inside:  # capitalised, outside an abstract's parts: see above
        next_words = found.group("next").split()
        named = not (next_words[0][1:2].islower() and next_words[1][:1].islower())
        words = re.split(r"[\s,/&]+", label.strip())
        if named or (len(words) == 1 and words[0].lower() not in _OPENING_WORDS):
            return None
    return next((part for part, words in _PART_WORDS.items() if words.search(label)), None)


def opens_part(text: str, section: str) -> str | None:
    """The part a sentence of this section opens with a label run in (`run_in_part`), where its section may hold
    one (`has_run_in_parts`): "Primary Outcome The primary outcome occurred ..." under "3 Results" opens none."""
    return run_in_part(text) if has_run_in_parts(section) else None


def in_part(section: str, part: str | None) -> str:
    """The section path of a sentence in a structured abstract's run-in part: "Abstract > Background"."""
    return f"{section} > {_PART_HEADINGS[part]}" if part else section


def run_in_parts(texts: list[str], sizes: list[int] | None = None) -> list[str | None]:
    """The run-in part each sentence lies in (`run_in_part`), carried from the sentence that opened it to the next
    label, within one block (`sizes`: how many of the sentences each passage or paragraph holds; default one):
    "BACKGROUND Diabetes is common. Statins are thought to ..." are both "setting". Only an abstract's text has
    such parts: callers pass the sentences of an abstract, front matter or a passage of no known section."""
    parts: list[str | None] = []
    for size in sizes or [len(texts)]:
        current = None
        for text in texts[len(parts):len(parts) + size]:
            current = run_in_part(text, inside=current is not None) or current
            parts.append(current)
    return parts


def has_run_in_parts(section: str) -> bool:
    """Whether a passage of this section may hold a structured abstract's run-in parts: an abstract, the front
    matter or no known section ("3 Results" opening with "Study Population Between 2010 and 2015 ..." has none)."""
    top = section.split(">")[0].strip().lower()
    return not top or top in _ABSTRACT_PART


def with_run_in_parts(texts: list[str], sections: list[str], sizes: list[int] | None = None) -> list[str]:
    """Each sentence's section with the run-in part it lies in (`run_in_parts`), where its section may hold one
    (`has_run_in_parts`): "Abstract > Background"."""
    return [in_part(section, part if has_run_in_parts(section) else None)
            for section, part in zip(sections, run_in_parts(texts, sizes), strict=True)]


def paragraph_sizes(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """How many of a passage's sentences (their `spans` in `text`, in reading order) each paragraph holds: one ends
    where the text breaks a line, and a run-in part with it (`run_in_parts`' `sizes`)."""
    sizes: list[int] = []
    for i, (start, _) in enumerate(spans):
        if i and "\n" not in text[spans[i - 1][1]:start]:
            sizes[-1] += 1
        else:
            sizes.append(1)
    return sizes


def sets_the_question_up(section: str) -> bool:
    """Whether a section path lies in a part that sets the question up (Background, Introduction, Objectives...)."""
    return bool(_SETTING_SECTION.search(" ".join(section.split())))  # one space each: no backtracking over a run


# The parts of a paper that say how the work was done: their numbers are settings (doses, temperatures, a
# significance level), not results.
_METHODS_PART = re.compile(
    rf"^{HEADING_NUMBER}(?:(?:materials?|patients?|subjects?|participants?|animals?|data)\s*(?:and|&)\s*)?"
    r"(?:methods?|methodology|materials?)\s*$|"
    rf"^{HEADING_NUMBER}(?:experimental (?:procedures?|section|setup|design|details)|study design|"
    r"statistical (?:analys[ie]s|methods))\s*$", re.IGNORECASE)


def describes_methods(section: str) -> bool:
    """Whether a section path lies in a part that says how the work was done (Methods, Materials and Methods,
    Experimental procedures...)."""
    return any(_METHODS_PART.match(part.strip()) for part in section.split(">"))


# Where a paper gives its abstract: under that heading, a Summary (the Lancet's), or before the first heading when
# a PDF's abstract has none the reader knows (its "Front matter").
_ABSTRACT_PART = frozenset({"abstract", "summary", "front matter"})


def states_the_whole_study(section: str) -> bool:
    """Whether a section path lies in the abstract's account of the study (its methods, results, conclusions; not
    its background or objectives): where a paper states its whole sample, not a subgroup's."""
    return section.split(">")[0].strip().lower() in _ABSTRACT_PART and not sets_the_question_up(section)


def is_back_matter(section: str) -> bool:
    """Whether any part of a section path is back matter (references, acknowledgements, authors' contributions,
    declarations...); a figure's or table's part is not."""
    return any(_BACK_MATTER_SECTION.match(part.strip()) for part in section.split(">"))


def is_body_section(section: str) -> bool:
    """False for References, Acknowledgements, Author details, Funding and the like (any part of a path)."""
    return not any(NOT_BODY_SECTION.match(part.strip()) for part in section.split(">"))


# An appendix numbered as ACL's are ("A.1 Accessing the data", "D.4 Ordinal regression"), case kept: "X.509" and
# "H.264" are names.
LETTERED_APPENDIX = r"(?-i:[A-Z](?:\.\d{1,2})+\.?\s+[A-Z])"


# The parts of a paper about what it leaves open ("Limitations", "Future work", "Outlook", "Open problems"), and the
# words of a part that also sums up ("Conclusions and future work": findings may be stated there too).
_OPEN_QUESTIONS_PART = re.compile(
    r"\blimitations?\b|\bfuture (?:work|directions?|research|perspectives?|studies)\b|"
    r"\boutlook\b|\bopen (?:problems?|questions?|issues|challenges)\b|\bperspectives\b|"
    r"\b(?:remaining|open|future) challenges\b|\bnext steps\b|"
    r"\b(?:current|open|outstanding|remaining|unresolved|future) research questions\b", re.IGNORECASE)
# A part under such a heading that restates what was found ("8.1 Summary of the results"), or an appendix an ACL paper's
# reader hung under its unnumbered Limitations ("A.1 Hyperparameters"): not about open questions.
_NOT_OPEN_QUESTIONS_PART = re.compile(
    r"^\W*(?:\d+(?:\.\d+)*\.?\s*)?(?:summary of (?:the )?(?:results|findings|contributions)|(?:main |key )?"
    rf"(?:results|findings))\s*$|^\s*{LETTERED_APPENDIX}|\bappendix\b", re.IGNORECASE)
# The headings of a part only about what a paper leaves open, as a whole: "3.1 Functional limitations", "Economic
# outlook" or "Patients' perspectives" under Results report findings.
_ONLY_OPEN_QUESTIONS = (
    r"(?:(?:study |main |key )?limitations?(?: of (?:the|this) (?:study|work|paper|review))?|"
    r"(?:future|further|ongoing) (?:work|directions?|research|perspectives?|studies|prospects)|work in progress|"
    r"outlook|"
    r"open (?:problems?|questions?|issues|challenges)|(?:remaining|open|future) challenges|next steps|"
    r"(?:knowledge|research) gaps|(?:unanswered|remaining|unresolved|open) questions|research agenda|"
    r"directions for (?:future|further) (?:research|work))")
_ONLY_OPEN_QUESTIONS_PART = re.compile(
    rf"^\W*{HEADING_NUMBER}{_ONLY_OPEN_QUESTIONS}(?:\s*(?:and|&|,)\s*{_ONLY_OPEN_QUESTIONS})*\s*[:.]?\s*$",
    re.IGNORECASE)
SHARED_PART = re.compile(r"\b(?:conclusions?|discussions?|summary|results|concluding)\b", re.IGNORECASE)


def open_questions_part(section: str) -> str | None:
    """The part of a section path that names open questions ("Limitations", "Conclusion and outlook"), unless a
    part under it sums up what was found ("Discussion & future work > Summary of the results" restates the
    research questions the paper answered)."""
    for part in reversed(section.split(">")):
        if _OPEN_QUESTIONS_PART.search(part):
            return part
        if _NOT_OPEN_QUESTIONS_PART.search(part.strip()):
            return None
    return None


def only_open_questions(section: str) -> bool:
    """Whether a section path lies in a part about what the paper leaves open and nothing else, by its whole
    heading ("Limitations", "8.5 Future directions", "7 Further work"; not "Conclusions and future work", nor
    "3.1 Functional limitations" under Results): it states no finding."""
    for part in reversed(" ".join(section.split()).split(">")):  # one space each: no backtracking over a run
        if _ONLY_OPEN_QUESTIONS_PART.match(part.strip()):
            return True
        if _NOT_OPEN_QUESTIONS_PART.search(part.strip()):
            return False
    return False
