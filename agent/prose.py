"""Which sentences of a passage are findings a researcher can quote: body prose.

An extractive answer sentence, a hypothesis premise and an open question must be a sentence of the paper's
body, not its title, a heading, a caption, an author or affiliation line, a footnote or a reference entry,
and not from a section that is not about the research (References, Acknowledgements, Author details...).
Parsers keep most of that out of passages, but PDFs are laid out in many ways; this rule is the last guard,
and it is the same rule for answers, hypotheses and open questions.
"""

from __future__ import annotations

import re

from retrieval.search import Passage
from retrieval.sentences import MID_SENTENCE_WORD
from tools.documents import title_key
from tools.sections import is_body_section

_WORDY = re.compile(r"^[^\W\d_]{2,}")
# A whole sentence ends in terminal punctuation (a closing quote, bracket or footnote number may follow); a
# sentence cut at a page or column break does not.
_ENDS = re.compile(r"[.!?][\"'”’)\]]*\d{0,2}\s*$")
# Prose about the paper's own layout, not about the research: "In the previous section, we described...".
_META = re.compile(r"\b(?:in (?:the|this) (?:previous |next |following )?(?:section|chapter|appendix)|"
                   r"(?:section|appendix|§)\s*\d|as (?:described|discussed|shown|mentioned) (?:above|below|earlier)|"
                   r"the (?:rest|remainder) of (?:this|the) paper|is (?:organized|organised) as follows)\b",
                   re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z][a-z]+")
# What the publisher prints on every article, not what the authors found: licence, copyright, correspondence,
# funding and competing-interest statements, which PDFs often leave in the first page's text.
_BOILERPLATE = re.compile(r"\b(?:(?:correspondence|requests? for (?:materials|reprints)) (?:should|may|can) be "
                          r"addressed|to whom correspondence|open[- ]access article (?:distributed|published|licensed)|"
                          r"distributed under the terms of|"
                          r"licensed under (?:a |the )?creative commons|permits unrestricted use|all rights reserved|"
                          r"the funders? had no role|"
                          r"(?:authors?|we) declare (?:that (?:they|we) have )?no (?:competing|conflicts?))\b|"
                          r"©|\bcopyright\b\W+(?:\(c\)\s*)?(?:19|20)\d\d\b", re.IGNORECASE)

# A labelled line of the front matter ("Keywords: alcohol, counseling, ...", "Keywords Alcohol, ..."), which a
# verb-like keyword ("computer-generated") would otherwise let pass as a sentence; "Keyword searches returned..." is
# a sentence.
_LABEL_LINE = re.compile(r"^\W*(?:key ?words?|index terms|abbreviations|(?:clinical )?trial registration(?: number)?|"
                         r"registration number|mesh terms)\b(?=\s*[:.–—]|\s+(?-i:[A-Z]))", re.IGNORECASE)


# A manuscript's history ("Received: 4 September 2013 Accepted: 27 December 2013", "Article history: Received 4
# September 2013", "Manuscript received September 4, 2013; revised ...", "Submitted: 2013-09-04"): a label, then a
# date with its month named or in digits; "Received 4 mg of the drug" is a sentence. Read on its first characters
# with single spaces (no backtracking over a run of them).
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE = (rf"(?:\d{{1,2}}(?:st|nd|rd|th)? {_MONTH},? (?:19|20)\d\d|"
         rf"{_MONTH} (?:\d{{1,2}}(?:st|nd|rd|th)?,? )?(?:19|20)\d\d|"
         r"(?:19|20)\d\d[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:19|20)\d\d)\b")
_HISTORY_LINE = re.compile(rf"^\W*(?:article history:? |manuscript )?(?:received|accepted|revised|submitted|"
                           rf"(?:first )?published(?: online)?|available online):? ?(?:on )?{_DATE}", re.IGNORECASE)
HISTORY_CHARS = 120


def is_publishing_matter(sentence: str) -> bool:
    """A publisher's boilerplate or a labelled front-matter line: never what the authors found."""
    return bool(_BOILERPLATE.search(sentence) or _LABEL_LINE.match(sentence)
                or _HISTORY_LINE.match(" ".join(sentence[:HISTORY_CHARS].split())))


_CAPTION = re.compile(r"^\s*(?:(?:supplementary|suppl\.?)\s+)?(?:fig(?:ure)?s?|tab(?:le)?s?|scheme|plate|"
                      r"algorithm|listing)\.?\s*S?\d+[a-z]?\b|"
                      r"^\s*\(?[A-Ha-h](?:\s*[-–,]\s*[A-Ha-h])?\)\s", re.IGNORECASE)  # a panel: "(C-D) Expression..."
# A footnote's number before its first word ("4We also tried...", "1 We also tried..."), as PDFs extract them.
_FOOTNOTE = re.compile(r"^\d{1,2}\s?(?=[A-Z][a-z])")
# A sentence whose first word is all lower case was cut at a column or page break ("is being cited and...");
# "mRNA", "p53" and "iPSCs" are words that start in lower case.
_CUT_START = re.compile(rf"^[\"'“(]?{MID_SENTENCE_WORD}")
# What a method says rather than what a study found: not a premise.
_METHOD_SENTENCE = re.compile(r"^\W*(?:(?:in|for) this (?:study|paper|work),? )?we (?:also |then |first )?(?:compare|"
                              r"compared|use|used|propose|introduce|describe|present|produced|prepared|collected|"
                              r"recruited|performed|conducted|designed|built|trained|implemented|measured)\b",
                              re.IGNORECASE)
_METHOD_SECTION = re.compile(r"\b(?:methods?|materials|methodology|experimental (?:setup|design|procedures?)|"
                             r"procedures?|study design|participants|data collection)\b", re.IGNORECASE)
# What only a reference entry has: a numbered marker before authors and a year, a volume/page run, a venue.
_REFERENCE = re.compile(
    r"^\s*(?:\[\d{1,4}\]|\d{1,3}\.\s)\s*\S.*\b(?:1[89]\d\d|20[0-4]\d)\b|"
    r"\b(?:1[89]\d\d|20[0-4]\d)\s*;\s*\d+\s*(?:\(\d+\))?\s*:\s*\d+|"  # Vancouver: 2019;12(3):45
    r"\b\d+\s*\(\d+\)\s*:\s*\d+\s*[-–]\s*\d+|"  # 12(3):45-67
    r"\bpp\.\s*\d+|\bIn Proceedings of\b|\bProc\. (?:of|IEEE)\b|\barXiv preprint\b|\bdoi:\s*10\.",
    re.IGNORECASE)
_AUXILIARIES = frozenset({
    "is", "are", "was", "were", "be", "been", "being", "am", "has", "have", "had", "do", "does", "did", "can",
    "could", "may", "might", "must", "shall", "should", "will", "would", "isn't", "aren't", "wasn't", "weren't",
    "hasn't", "haven't", "didn't", "doesn't", "cannot",
})
# Common verbs of scientific prose whose present forms no suffix rule catches ("X shows", "we find").
_VERB_STEMS = frozenset({
    "show", "suggest", "indicate", "demonstrate", "reveal", "find", "found", "report", "increase", "decrease",
    "reduce", "improve", "remain", "require", "need", "lead", "cause", "affect", "depend", "provide", "allow",
    "enable", "achieve", "outperform", "yield", "use", "present", "propose", "introduce", "describe", "consist",
    "contain", "include", "perform", "observe", "appear", "seem", "occur", "exist", "make", "take", "give", "help",
    "predict", "explain", "support", "correlate", "associate", "differ", "vary", "exceed", "fail", "lack", "focus",
    "aim", "address", "consider", "compare", "measure", "estimate", "obtain", "produce", "result", "rely",
    "represent", "involve", "identify", "learn", "train", "capture", "encode", "apply", "play", "become", "get",
    "let", "know", "think", "believe", "argue", "note", "leave", "plan", "hope", "expect", "tend", "discuss",
    "study", "examine", "investigate", "analyze", "analyse", "develop", "build", "construct", "evaluate", "test",
    "define", "assess", "extend", "generate", "form", "create", "reach", "seek", "offer", "open", "discover",
    "detect", "prevent", "induce", "inhibit", "promote", "regulate", "activate", "bind", "express", "modulate",
    "mediate", "enhance", "limit", "serve", "assume", "adopt", "employ", "calculate", "derive", "determine",
    "simulate", "correspond", "satisfy", "confirm", "conclude", "implement", "emerge", "arise", "suppress", "choose",
    "contribute", "replace",
})


def is_prose(sentence: str) -> bool:
    """True for a readable sentence; false for table rows, equations and fragments."""
    words = sentence.split()
    if not 6 <= len(words) <= 70:
        return False
    return sum(bool(_WORDY.match(w.strip("([\"'"))) for w in words) / len(words) >= 0.7


def is_title_case(sentence: str) -> bool:
    """Most longer words capitalised: a title, heading, footnoted title or author line, not a sentence."""
    words = [w for w in sentence.split() if sum(c.isalpha() for c in w) >= 4]
    return len(words) >= 3 and sum(w.lstrip("\"'([“‘0123456789")[:1].isupper() for w in words) >= 0.6 * len(words)


def is_verb_form(word: str) -> bool:
    """An auxiliary, a past form or a common verb of scientific prose (what `has_verb` looks for)."""
    token = word.lower()
    return (token in _AUXILIARIES or (len(token) > 4 and token.endswith("ed")) or token in _VERB_STEMS
            or token.removesuffix("es") in _VERB_STEMS or token.removesuffix("s") in _VERB_STEMS)


def has_verb(sentence: str) -> bool:
    """A crude finite-verb test (no tagger model is available offline): an auxiliary or modal, a past form,
    or a common verb of scientific prose. Titles, author lines and headings usually have none."""
    return any(is_verb_form(token) for token in _TOKEN.findall(sentence))


def looks_like_reference(sentence: str) -> bool:
    """A reference-list entry (or a piece of one) rather than a sentence about research."""
    return bool(_REFERENCE.search(sentence))


def _is_title_or_heading(sentence: str, passage: Passage) -> bool:
    key = title_key(sentence)
    if not key:
        return True
    headings = [passage.title, *passage.section.split(">")]
    return any((other := title_key(h)) and ((other in key and len(other) >= 0.6 * len(key)) or key in other)
               for h in headings)


def is_whole_sentence(sentence: str) -> bool:
    """Ends as a sentence ends and does not start in the middle of one (a fragment a layout cut: "barriers to
    reading without any loss.", "We are able to outperform the fastest compiler and the")."""
    return bool(_ENDS.search(sentence)) and not _CUT_START.match(sentence)


def is_body_prose(passage: Passage, sentence: str) -> bool:
    """The rule every quoted finding passes (see the module docstring)."""
    return (is_prose(sentence) and is_whole_sentence(sentence) and has_verb(sentence)
            and not is_title_case(sentence) and not _META.search(sentence) and not is_publishing_matter(sentence)
            and is_body_section(passage.section)
            and not _CAPTION.match(sentence) and not _FOOTNOTE.match(sentence)
            and not looks_like_reference(sentence)
            and not _is_title_or_heading(sentence, passage))


def is_finding(passage: Passage, sentence: str, most_words: int = 40) -> bool:
    """Body prose short enough to be restated inside a hypothesis, saying what was found rather than how it
    was done (not a Methods section, not "we used..."): what a premise can be."""
    return (is_body_prose(passage, sentence) and len(sentence.split()) <= most_words
            and not _METHOD_SENTENCE.match(sentence) and not _METHOD_SECTION.search(passage.section))
