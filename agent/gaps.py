"""Open questions the papers themselves state: limitations, future work, what remains unclear, and negative
or conflicting results. This is what SciSynth offers for "what should we test next?" without a model, and
what a model is given to build hypotheses on.

A sentence is an open question when it is body prose (agent/prose.py) and either says so in words the
authors use for it ("further studies are needed", "remains unclear", "a limitation of this study") or stands
in a section about it (Limitations, Future work, Outlook, Open problems) with a weaker cue ("however",
"should", "challenge"). Each is quoted with its page and section, ranked by similarity to the topic, and
grouped with the open questions that say nearly the same thing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from agent.evidence import Sentence, SentenceScorer
from agent.keywords import content_words
from agent.prose import is_body_prose, is_verb_form
from agent.sentence_types import sentence_type
from agent.settings import AnswerSettings
from retrieval.search import HybridSearcher, Passage
from tools.sections import LETTERED_APPENDIX, SHARED_PART, is_back_matter, open_questions_part

_LIMITATION = "limitation"
_FUTURE = "future work"
_OPEN = "open question"
_NEGATIVE = "negative or conflicting result"

_VERB_OF_STUDY = (r"(?:assess|measure|include|control|account|examine|evaluate|consider|test|investigate|determine|"
                  r"rule out|exclude|be (?:sure|certain)|distinguish|establish)")
_RESULT_VERB = (r"(?:find|observe|detect|show|improve|affect|alter|change|differ|reduce|increase|reach|support|"
                r"replicate|demonstrate|predict|prevent)")
_CUE_PATTERNS: dict[str, list[str]] = {
    _LIMITATION: [
        r"\b(?:a|an|one|the|main|major|several|some|key|potential|important|other|further|two|three|its|our|"
        r"their|this|these|study|methodological) limitations?\b", r"\blimitations? (?:of|include|are|is|was|were)\b",
        r"\b(?:is|are|was|were) limited by\b|\b(?:study|analysis|work|project|approach|review|evaluation|sample|"
        r"dataset|corpus|data) (?:is|are|was|were) (?:further|also) limited\b",
        r"\bshortcomings?\b", r"\bdrawbacks?\b", r"\bcaveats?\b",
        r"\bwe (?:\w+ )?were (?:not able|unable)\b",
        r"^(?![^.]*\b(?:no|avoid|without)\b[^.]{0,20}\b(?:ceiling|floor)\b)[^.]*\b(?:ceiling|floor) effects?\b",
        r"^\W*unfortunately\b(?=[^.]*\b(?:we|our|not|no|unable|could|cannot)\b)",
        r"\bpreclud(?:es?|ed|ing)\b[^.]{0,40}\b(?:analys[ie]s|comparisons?|conclusions?|inferences?|assessment|"
        r"evaluation|generali[sz]\w+|estimat\w+|us from|determination)\b",
        r"\b(?:another|one|a further|a potential) concern (?:is|was|relates|here)\b",
        r"\bcannot be (?:evaluated|assessed|determined|tested|excluded|ruled out|confirmed|verified|established)\b"
        r"(?! analytically| in closed form| exactly| directly)",
        rf"\b(?:we|this study|this work|our study) (?:(?:did|could|can|were) not|cannot) (?:be able to )?"
        rf"{_VERB_OF_STUDY}\b",
        rf"\bnot (?:able|possible) to {_VERB_OF_STUDY}\b",
        r"\b(?:(?:may|might|could|does|do) not (?:necessarily )?)(?:correlate|reflect|generali[sz]e|translate|apply|"
        r"extend|be representative|be generali[sz]able)\b",
        r"\b(?:(?:may|might|could) not (?:necessarily )?|(?:does|do) not necessarily )(?:represent|hold)\b|"
        r"\b(?:sample|cohort|participants|population|data|dataset|corpus) (?:does|do) not represent\b",
        r"\bnot (?:further |fully )?(?:characteri[sz]ed|examined|studied|investigated|explored|tested|assessed) "
        r"(?:in (?:this|the present|our)|here|further)\b",
        r"\bnot further (?:determined|studied|investigated|explored)\b",
        r"(?<!not )(?<!n't )\blimit(?:s|ed|ing)? (?:the |its |their |our )?(?:generali[sz]ability|"
        r"generali[sz]ation|external validity)\b",
        r"\bsubject to (?:(?:future|further|later) (?:modification|revision|change|correction)\b|"
        r"(?:modification|revision|change|correction) (?:once|when|as soon as|if|pending)\b)",
        r"\b(?:low|limited|reduced|decreased|insufficient|lack of|lacked) (?:statistical )?power(?=\s*[.,;)]|"
        r"\s+(?:to|for|in)\b)|\b(?:under|insufficiently)[- ]?powered\b|\bpower was limited\b",
    ],
    _FUTURE: [
        r"\bfuture (?:(?:clinical|randomi[sz]ed|prospective|larger?|longitudinal|experimental|empirical|"
        r"controlled|multi-?cent(?:er|re)) )?(?:work|studies|study|research|investigations?|directions?|"
        r"experiments?|trials?|analys[ie]s|"
        r"releases?|versions?|updates?|optimi[sz]ations?|development(?! of)|efforts?|improvements?|extensions?)\b",
        r"\bmust await\b|\bawaits? further\b",
        r"\b(?:evidence|studies|data|validation|research|work|confirmation|investigations?) (?:is|are) still "
        r"(?:needed|required|lacking)\b",
        r"\bwe will (?:show|report|describe|present|address) (?:\w+ ){0,3}elsewhere\b",
        r"\b(?:is|are) (?:also )?(?:planned|foreseen|envisaged|envisioned)\b",
        r"\bwill need to\b", r"\b(?:the|a|an|our) (?:\w+ )?next steps? (?:will|would|should|could|might) be to\b|"
        r"\bour (?:\w+ )?next steps? (?:is|are) to\b",
        r"\bit remains to (?!(?:show|prove|check|verify|compute|bound|be shown|be proved|be checked)\b)",
        r"\bwill be (?:explored|investigated|studied|examined|pursued|tackled)\b"
        r"(?![^.]*\b(?:section|below|next|chapter|appendix)\b)",
        r"\b(?:another|a further|one|a second|a third|a promising) (?!related)(?:\w+ )?(?:direction|avenue|line of "
        r"(?:research|work))s? (?:\w+ ){0,3}(?:(?:is|are) to|would|could|will|might|for future)\b",
        r"\b(?:should|will|must|needs? to) (?:\w+ ){0,4}in (?:the )?future\b",
        r"\bfurther (?:improvements?|enhancements?|refinements?|optimi[sz]ations?) (?:\w+ ){0,6}(?:should|could|may|"
        r"might|would|will) be\b",
        r"\bfurther (?:[\w-]+ ){0,2}(?:improvements?|advances?) (?:\w+ ){0,2}(?:is|are) "
        r"(?:still )?(?:critical|needed|necessary|required|warranted)\b",
        r"\b(?:research|open) directions?\b",
        r"\b(?:further|more|additional|larger|longer|prospective) (?!recent|previous|earlier|prior|than)"
        r"(?:[\w-]+ (?:and [\w-]+ )?){0,2}"
        r"(?:studies|research|work|investigations?|"
        r"experiments?|analys[ie]s|trials?|data|observations?|measurements?|sampling)\b[^.]{0,120}\b(?:needed|"
        r"required|warranted|necessary|should|would|must|will|needs? to)\b",
        r"\bbefore (?:any |further |firm |definitive )?conclusions can be drawn\b",
        r"\b(?:it|in the future) (?:will|would) be (?:valuable|useful|necessary|important|informative|worthwhile)\b",
        r"\b(?:will|would) be (?:necessary|needed|required) to\b",
        r"\b(?:is|are) worth (?:further )?(?:exploring|investigating|studying|examining|pursuing|testing)\b",
        r"(?<!little )(?<!no )\broom (?:for|to) improve(?:ment)?\b",
        r"\b(?:warrants?|merits?|deserves?|requires?|needs?) (?:further|more|additional) (?:\w+ )?(?:study|studies|"
        r"research|work|investigations?|attention|exploration|analys[ie]s|validation|testing|experiments?|evidence|"
        r"data|scrutiny|trials?|clarification|confirmation)\b(?! than)",
        r"\b(?:further|more|additional|independent) (?:evidence|confirmation|validation|replication|"
        r"characteri[sz]ation|assessment|evaluation|testing)\b[^.]{0,80}\b(?:needed|required|warranted|necessary)\b",
        r"\b(?:may|might|could|would) help (?:to )?(?:resolve|answer|clarify|address|explain|settle)\b",
        r"\bwill be (?:treated|addressed|studied|considered|investigated|discussed) (?:in(?! (?:section|chapter|"
        r"appendix|the next|the following))|elsewhere)\b",
        r"\b(?:is|are|was|were) warranted\b", r"^\W*in (?:the )?(?:near )?future\b",
        r"\b(?:explore|address|investigate|study|examine|consider|pursue)d?\b[^.]{0,40}\bin (?:the )?future\b",
        r"\bwe (?:plan|intend|hope) to\b", r"\bleave\b[^.]{0,60}\bfor future\b", r"\bit would be interesting\b",
        r"\b(?:(?:should|needs? to|remains? to|must) be (?:further |more )?|(?:could|will) be (?:further|more) )"
        r"(?:explored|investigated|examined|"
        r"studied|addressed|tested|determined|clarified|validated|evaluated|elucidated|confirmed|replicated|"
        r"established)\b",
    ],
    _OPEN: [
        r"\bremains?(?: \w+)? (?:unclear|unknown|uncertain|elusive|unexplored|unresolved|an open|poorly understood|"
        r"controversial|to be|unanswered|untested|unexplained|intriguing|puzzling|enigmatic|a mystery|a puzzle|"
        r"speculative|debated|a matter of debate|an enigma|contentious|mysterious)\b", r"\b(?:is|are) still debated\b",
        r"\bremains? open\b",
        r"\bthe question (?:still )?remains\b", r"\b(?:once|until|when) more is known\b",
        r"\b(?:is|are|was|were) (?:still |largely |currently )?(?:unclear|uncertain|unresolved|poorly understood)\b",
        r"\b(?:an|by an|through an|via an) (?:\w+ )?unknown (?:mechanism|site|route|factor|pathway|process|cause)\b",
        r"\b(?:knowledge|research) gaps?\b|\bgaps? in (?:our )?(?:knowledge|understanding)\b",
        r"\b(?:it|whether|why|how)\b[^.]{0,80}\b(?:is|are|was|were|remains?) (?:still |yet )?(?:unknown|"
        r"not (?:yet )?(?:known|clear|understood))\b",
        r"\bopen (?:questions?|problems?|issues?|challenges?|topics?|research questions?)\b",
        r"\b(?:questions|problems|issues) (?:still )?(?:exist|remain|persist)\b",
        r"\b(?:is|are|was|were) (?:still|entirely|completely|largely|currently|as yet) (?:unknown|"
        r"not (?:yet )?(?:known|understood))\b(?! to)",
        r"\b(?:mechanisms?|causes?|roles?|functions?|origins?|reasons?|basis|significance|nature|extent|source)\b"
        r"[^.]{0,80}\b(?:is|are|was|were) (?:unknown|not (?:yet )?(?:known|understood))\b(?! to)",
        r"\bit is (?:necessary|essential|important|crucial|critical) to (?:determine|establish|clarify|investigate|"
        r"elucidate|explore|examine)\b", r"\blittle is known\b", r"\bpoorly understood\b",
        r"\b(?:is|are) (?:still |completely |largely )?open(?=\s*[.;,)]|$)",
        r"\b(?:has|have|had) (?:not|never) (?:yet )?been (?:fully |completely )?(?:studied|examined|investigated|"
        r"explored|shown|reported|addressed|tested|established|determined|elucidated|clarified|identified|"
        r"characteri[sz]ed|solved|resolved|answered|understood)\b",
        r"\b(?:has|have|had) yet to be (?:examined|studied|determined|established|explored|investigated|tested|"
        r"shown|elucidated|understood|clarified|confirmed)\b",
        r"\bno (?:previous |prior )?(?:study|studies|work) (?:has|have)\b",
        r"\b(?:has|have) yet to (?:\w+ )?(?:explore|examine|investigate|study|test|determine|establish|show|"
        r"demonstrate|address|understand|identify|elucidate|clarify|confirm|evaluate|assess|measure|resolve)\b",
        r"\b(?:none|neither) (?:has|have) (?:yet )?been (?:substantiated|confirmed|established|proven|tested)\b",
        r"\bwe (?:suspect|conjecture)\b|\bconjectur(?:e|ed) (?:that|to)\b|\b(?:difficult|impossible|hard) to "
        r"(?:know|tell|determine|say|establish|explore|assess|evaluate|compare|exclude|rule out)\b|"
        r"\b(?:does|do|did) not address\b",
    ],
    _NEGATIVE: [
        r"\b(?:conflicting|contradictory|inconsistent|mixed|controversial) "
        r"(?:results|findings|evidence|data|reports)\b",
        r"\b(?:in (?:\w+ )?contrast|contrary) to (?:(?:most|many|some|several|much)(?: of)? )?(?:the )?"
        r"(?:previous|earlier|prior|other|published) (?:studies|reports|findings|results|observations|trials)\b",
        r"\b(?:in (?:\w+ )?contrast|contrary) to (?:most|many|several|much)(?: of)? (?:the )?(?:studies|reports|"
        r"findings|results|observations|trials)\b",
        r"\b(?:findings|results|evidence|associations?|effects?) (?:is|are|was|were) not (?:universal|"
        r"always (?:replicated|reproduced|seen|found|observed)|consistent across (?:studies|trials|cohorts|"
        r"populations|reports|settings))\b",
        r"\b(?:is|are|was|were|remains?|seems?|appears?) (?:still |highly )?(?:conflicting|contradictory|"
        r"inconsistent|mixed(?=\s*[.;,)]|\s*$)|controversial)\b",
        r"\b(?:failed|fail|did not|could not) to (?:replicate|reproduce|confirm)\b",
        r"\b(?:paradox(?:ical)?|unexplained|puzzling)\b",
    ],
}
# "to help future research, we release..." looks forward without naming anything left open; so do "instrumental in
# designing future studies" and "a framework for future trials".
_NOT_A_GAP = re.compile(r"\b(?:help|facilitate|foster|enable|support|aid|benefit|spur|encourage|inform|guide)s?\s+"
                        r"(?:\w+\s+){0,2}(?:future|further)\s+\w+|"
                        r"\b(?:instrumental|useful|valuable|helpful) (?:in|for) \w+ing (?:\w+\s+){0,2}future\b|"
                        r"\b(?:basis|foundation|framework|groundwork|starting point) for "
                        r"(?:\w+\s+){0,2}future\b|"
                        r"\b(?:available|accessible|useful|released?)\s+(?:\w+\s+){0,2}(?:to|for)\s+future\b",
                        re.IGNORECASE)
_RELEASED_FOR_FUTURE = re.compile(r"\b(?:release|open-?source|publish|share|distribute)s?d?\b[^.]{0,120}"
                                 r"\bfor (?:future|further) (?:research|work|studies|use)\b|\bmade? (?:\w+ ){0,4}"
                                 r"(?:publicly )?available\b[^.]{0,60}\bfor (?:future|further)\b", re.IGNORECASE)
_BASELINE = re.compile(r"\bbaseline\b", re.IGNORECASE)
# "It is important to note its limitations." announces them and names none; "To explore whether X was limited by
# Y, we imaged ..." says what was done next.
_ANNOUNCES = re.compile(r"\b(?:note|acknowledge|mention|recogni[sz]e|discuss|consider|highlight)\w*\b[^.]{0,40}"
                        r"\blimitations\b(?: (?:of|in|to) (?:this|our|the present|the current) (?:study|work|paper|"
                        r"analysis|approach))?\W*$", re.IGNORECASE)
_PURPOSE = re.compile(r"^\W*to (?:explore|test|determine|examine|investigate|assess|evaluate|address|understand|"
                      r"check|see|ask|learn) (?:if|whether|how|why|what)\b", re.IGNORECASE)
_OWN_WORK = re.compile(r"\b(?:we|our)\b", re.IGNORECASE)
# Where the authors review others' work: a limitation named there is of that work.
_REVIEWING_SECTION = re.compile(r"^\W*(?:\d+(?:\.\d+)*\.?\s*|[IVX]+\.\s*)?(?:introduction|background|motivation|"
                                r"related (?:work|research|literature)|literature review|prior work|"
                                r"state of the art)\b", re.IGNORECASE)
# The last part of a path that sums up: "Abstract > Conclusions" is the paper speaking of its own results.
_CONCLUDING_PART = re.compile(r"\b(?:conclusions?|discussion|limitations?|future|outlook|implications)\b",
                              re.IGNORECASE)
# A gap an introduction names ("X has not been explored") is what the paper sets out to fill, not one it leaves.
_MOTIVATING_SECTION = re.compile(r"^\W*(?:\d+(?:\.\d+)*\.?\s*|[IVX]+\.\s*)?(?:introduction|background|motivation|"
                                 r"abstract|front matter|significance(?: statement)?\s*$|"
                                 r"related (?:work|research|literature)|literature review|prior work|"
                                 r"state of the art)\b", re.IGNORECASE)
# What was done: an unknown or a conflict named there is why a step was taken ("excluded because of conflicting
# findings"), not what the paper leaves open.
_METHODS_SECTION = re.compile(r"^\W*(?:\d+(?:\.\d+)*\.?\s*\|?\s*|[IVX]+\.\s*)?(?:(?:(?:materials?|patients|"
                              r"subjects|participants|data) and )?methods?|methodology|"
                              r"experimental(?:\s*$| (?:section|procedures?|design|setup|details|methods?))|"
                              r"statistical analys[ie]s|study (?:design|population)|procedures?)\b", re.IGNORECASE)
# Not the paper speaking about its science: appendices, annotation guidelines, instructions to participants; nor is
# its back matter (tools/sections.py: "the views ... do not necessarily represent those of the NIH").
# Appendices lettered as ACL's are: "A.1 Accessing the data" anywhere, "D Negative social impact" where the reader
# hung it under the paper's last section ("6 Conclusion > D ..."); elsewhere a lone capital is a word ("B Cell
# Development"), and IEEE's lettered subsections carry a full stop ("B. Implementation"): both stay body.
_NOT_A_GAP_SECTION = re.compile(rf"\bappendix\b|(?:^|>)\s*{LETTERED_APPENDIX}|"
                                r"\bconclusions?\b[^>]*>\s*(?-i:[A-Z]\s+[A-Z])|\bappendices\b|"
                                r"\bsupplementa(?:ry|l) (?:materials?|information|notes?|"
                                r"methods|text)\b|\bannotation (?:guidelines|instructions|protocol|manual)\b|"
                                r"\binstructions (?:to|for) (?:annotators|raters|participants|workers)\b",
                                re.IGNORECASE)
_SOLVED = re.compile(r"(?<!not )(?<!n't )(?<!never )\b(?:(?:overcome|address(?:es|ed)?|avoid|circumvent|mitigate|"
                     r"remove|alleviate|balance|offset|outweigh)s?|compensates? for) "
                     r"(?:this|these|the|such|that|those) (?:limitations?|shortcomings?|drawbacks?)\b|"
                     r"\b(?:address|fill|close|bridge)(?:es|s|ed)? (?:\w+ ){0,3}(?:knowledge |research )?gaps?\b",
                     re.IGNORECASE)
_CUES = tuple((kind, re.compile("|".join(patterns), re.IGNORECASE)) for kind, patterns in _CUE_PATTERNS.items())
_FUTURE_CUE = dict(_CUES)[_FUTURE]
# "Strengths and limitations": its strengths come first ("The study was adequately powered"), so a sentence there
# is a limitation only from the first one stated in words on (`stated_gaps`).
_STRENGTHS = re.compile(r"\bstrengths?\b", re.IGNORECASE)
_SUMS_UP = re.compile(r"^\W*(?:in conclusion|in summary|to conclude|to summari[sz]e|overall|taken together|"
                      r"this (?:review|paper|study|work|overview|article)\b)", re.IGNORECASE)
# Inside such a section a weaker cue is enough: authors list their open problems without set phrases.
_SECTION_CUE = re.compile(r"\b(?:however|challenges?|should|could|would|might|may|needs?|needed|requires?|"
                          r"required|further|future|remains?|yet|not|limited|difficult|unclear|unknown|next|"
                          r"interesting|plan|explore|investigate|extend|open|conjectures?|suspect|expect(?:ed)?|"
                          r"believe|challenging|difficulty|still|problems?|fail)\b", re.IGNORECASE)
# Words every open question uses: no help in saying what a group of them is about.
_GENERIC = frozenset({
    "future", "further", "studies", "study", "research", "work", "works", "needed", "need", "required", "require",
    "remains", "remain", "unclear", "unknown", "however", "also", "limitation", "limitations", "results",
    "findings", "additional", "interesting", "open", "question", "questions", "clear", "extent", "affect",
    "whether", "did", "does", "significant", "difference", "investigate", "investigated", "explore", "explored",
    "plan", "challenge", "challenges", "possible",
})


def _cue_kind(sentence: str) -> str | None:
    """The kind an author's set phrase names, or None."""
    looks_ahead = bool(_FUTURE_CUE.search(sentence))
    if _RELEASED_FOR_FUTURE.search(sentence) or (_SOLVED.search(sentence) and not looks_ahead):
        return None
    sentence = _NOT_A_GAP.sub(" ", sentence)
    kind = next((kind for kind, cue in _CUES if cue.search(sentence)), None)
    # "The groups did not differ at baseline" checks a design, it is not a result.
    return None if kind == _NEGATIVE and _BASELINE.search(sentence) else kind


def _title_kind(title: str) -> str:
    lowered = title.lower()
    return _LIMITATION if "limit" in lowered else _OPEN if re.search(r"open|challenge", lowered) else _FUTURE


def gap_kind(sentence: str, section: str) -> str | None:
    """What kind of open question the sentence states on its own, or None: an author's set phrase; in a
    Limitations section, any sentence; in another section about open questions, a weaker cue; but where the
    section also sums up ("Conclusions and Future Work"), only the set phrases or a question. Never in an appendix or
    guidelines, never the paper's own aim, an instruction (agent/sentence_types.py), an announcement of limitations
    or a purpose ("To test whether ...") that does not look ahead; an unknown named in an introduction, abstract or
    related work is what the paper goes on to study (unless the part sums up: "Abstract > Conclusions"), and a
    limitation named in an introduction or related work is of the work reviewed (unless "we"/"our"); an unknown, a
    conflict or a plan in Methods is why a step was taken or what a protocol will do."""
    if (_NOT_A_GAP_SECTION.search(section) or is_back_matter(section)) and not open_questions_part(section):
        return None
    kinds = sentence_type(sentence)
    # "In future work we aim to extend..." names work still to do; "We aimed to test whether..." does not.
    looks_ahead = bool(_FUTURE_CUE.search(sentence))
    if kinds.instruction or (kinds.aim and not looks_ahead) or _ANNOUNCES.search(sentence) or \
            (_PURPOSE.search(sentence) and not looks_ahead):
        return None
    if kind := _cue_kind(sentence):
        parts = [part.strip() for part in section.split(">")]
        if kind in (_OPEN, _NEGATIVE, _FUTURE) and any(_METHODS_SECTION.search(part) for part in parts):
            return None  # "Recruitment of 300 participants is planned"
        if _CONCLUDING_PART.search(parts[-1]) or not any(_MOTIVATING_SECTION.search(part) for part in parts):
            return kind
        if kind == _LIMITATION:  # a limitation an introduction names is of the work it reviews
            reviewing = any(_REVIEWING_SECTION.search(part) for part in parts)
            return None if reviewing and not _OWN_WORK.search(sentence) else kind
        return None if kind in (_OPEN, _NEGATIVE) else kind
    titled = open_questions_part(section)
    if titled and kinds.question:  # "How can we ...?" under "Conclusion and outlook"
        return _OPEN
    if titled is None or SHARED_PART.search(titled) or _STRENGTHS.search(titled):
        return None
    kind = _title_kind(titled)
    return kind if kind == _LIMITATION or _SECTION_CUE.search(sentence) else None


def stated_gaps(passages: list[Passage]) -> dict[tuple[int, int], str]:
    """(chunk id, sentence start) -> kind, for the sentences of these passages (in reading order) that state an
    open question. Within a section about open questions, once one is stated, the sentences after it that
    carry a weaker cue continue the list ("The higher-dimensional case is still a problem"), until the
    authors sum up ("In conclusion, ..."); in a section of strengths and limitations, every sentence after the
    first limitation (its strengths come before)."""
    kinds: dict[tuple[int, int], str] = {}
    listing: dict[tuple[str, str], str] = {}  # (paper, section) -> the kind that opened its list
    for passage in passages:
        key, titled = (passage.paper_id, passage.section), open_questions_part(passage.section)
        for start, end in passage.sentence_spans():
            text = passage.text[start:end]
            stated = gap_kind(text, passage.section)
            strengths_next = bool(titled and _STRENGTHS.search(titled) and _STRENGTHS.search(text))
            if titled and not stated and (_SUMS_UP.search(text) or strengths_next):  # a summary, or the strengths
                listing.pop(key, None)
                continue
            listed = listing.get(key) if titled else None
            # in "Strengths and limitations", every sentence after the first limitation is one
            continues = bool(_SECTION_CUE.search(text)) or (
                listed == _LIMITATION and titled is not None and bool(_STRENGTHS.search(titled)))
            kind = stated or (listed if continues else None)
            if kind is not None:
                kinds[(passage.chunk_id, start)] = kind
                if titled:
                    listing.setdefault(key, kind)
    return kinds


def leaves_open(sentence: str, section: str) -> bool:
    """A limitation, future work or open question: what a paper has not shown, so never a finding to build on
    (a negative result is a finding); nor is anything in a section of limitations, its strengths included. The
    author's words decide wherever they stand: a limitation an introduction names of others' work ("existing
    corpora are not without their limitations") is no open question of this paper, and no finding either."""
    titled = open_questions_part(section)
    return _cue_kind(sentence) not in (None, _NEGATIVE) or gap_kind(sentence, section) not in (None, _NEGATIVE) or (
        titled is not None and _title_kind(titled) == _LIMITATION)


def _may_hold_gaps(passage: Passage) -> bool:
    """A cheap test before any sentence is scored: the passage's section or text has a cue."""
    return open_questions_part(passage.section) is not None or any(cue.search(passage.text) for _, cue in _CUES)


@dataclass(frozen=True)
class FoundGap:
    """An open question a paper states: the quoted sentence, its kind, and the name of its group."""

    sentence: Sentence
    kind: str
    group: str = ""

    @property
    def passage(self) -> Passage:
        return self.sentence.passage


def _shared_words(members: list[Sentence], topic: str) -> list[str]:
    """The nouns and adjectives (as far as a word list can tell) that two or more members share, most shared
    first, the topic's own words left out: what a group of open questions is about."""
    skip = {w.lower() for w in content_words(topic)} | _GENERIC
    counts = Counter(w.lower() for m in members for w in dict.fromkeys(content_words(m.text))
                     if w.lower() not in skip and len(w) > 2 and not is_verb_form(w))
    return [word for word, count in counts.most_common(3) if count > 1]


class OpenQuestionFinder:
    """Reads the most relevant papers whole (the evidence has only their best passages) for the open questions
    they state; stored sentence vectors make it dot products, not encoding."""

    def __init__(self, searcher: HybridSearcher, scorer: SentenceScorer, papers: int = 5, most: int = 10,
                 quality: AnswerSettings | None = None) -> None:
        quality = quality or AnswerSettings()
        self.searcher = searcher
        self.scorer = scorer
        self.papers = papers
        self.most = most
        self.min_similarity = quality.gap_min_similarity
        self.duplicate_similarity = quality.duplicate_similarity
        self.group_similarity = quality.gap_group_similarity
        self.negative_penalty = quality.gap_negative_penalty
        self.paper_weight = quality.gap_paper_weight

    def find(self, topic: str, evidence: list[Passage]) -> list[FoundGap]:
        """The open questions stated in the papers of the evidence (the `papers` most relevant), most relevant
        first within groups, groups in order of their best member."""
        relevance: dict[str, float] = {}  # paper -> its best passage's similarity to the topic
        for passage, score in self.scorer.rank_passages(topic, evidence):
            relevance.setdefault(passage.paper_id, score)
        paper_ids = list(relevance)[:self.papers]
        candidates = [p for p in self.searcher.paper_passages(paper_ids) if _may_hold_gaps(p)]
        kinds = stated_gaps(candidates)
        stated = [s for found in self.scorer.sentences(topic, candidates, keep=is_body_prose) for s in found
                  if (s.passage.chunk_id, s.start) in kinds and s.score >= self.min_similarity]
        kept: list[Sentence] = []
        for sentence in sorted(stated, key=lambda s: -self._rank(s, kinds, relevance)):
            if len(kept) == self.most:
                break
            if not any(float(sentence.vector @ other.vector) > self.duplicate_similarity for other in kept):
                kept.append(sentence)
        return self._grouped(topic, kept, kinds)

    def of_paper(self, paper_id: str, title: str) -> list[FoundGap]:
        """The open questions one paper states, in reading order (at most `most`, no two alike): its own, so none is
        left out for being far from a topic."""
        candidates = [p for p in self.searcher.paper_passages([paper_id]) if _may_hold_gaps(p)]
        kinds = stated_gaps(candidates)
        stated = [s for found in self.scorer.sentences(title, candidates, keep=is_body_prose) for s in found
                  if (s.passage.chunk_id, s.start) in kinds]
        kept: list[Sentence] = []
        for sentence in stated:
            if len(kept) < self.most and not any(float(sentence.vector @ other.vector) > self.duplicate_similarity
                                                 for other in kept):
                kept.append(sentence)
        return [FoundGap(s, kinds[(s.passage.chunk_id, s.start)], kinds[(s.passage.chunk_id, s.start)]) for s in kept]

    def _rank(self, sentence: Sentence, kinds: dict[tuple[int, int], str], relevance: dict[str, float]) -> float:
        """Similarity to the topic, plus its paper's relevance (an open question of the paper the topic is about
        comes before a similar one of a paper at its edge); a negative result ("no significant difference in
        body weight") is often a control, not an open question, so it ranks a little below the other kinds."""
        negative = kinds[(sentence.passage.chunk_id, sentence.start)] == _NEGATIVE
        return (sentence.score + self.paper_weight * relevance.get(sentence.passage.paper_id, 0.0)
                - (self.negative_penalty if negative else 0.0))

    def _grouped(self, topic: str, ranked: list[Sentence], kinds: dict[tuple[int, int], str]) -> list[FoundGap]:
        groups: list[list[Sentence]] = []
        for sentence in ranked:
            home = next((g for g in groups if float(np.dot(g[0].vector, sentence.vector)) >= self.group_similarity),
                        None)
            if home is None:
                groups.append([sentence])
            else:
                home.append(sentence)
        found: list[FoundGap] = []
        for group in groups:
            shared = _shared_words(group, topic) if len(group) > 1 else []
            # A group names what its members share; one that shares no word is no group: each is named by its kind.
            found.extend(FoundGap(s, kinds[(s.passage.chunk_id, s.start)], ", ".join(shared) or
                                  kinds[(s.passage.chunk_id, s.start)]) for s in group)
        return found
