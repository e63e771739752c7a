"""What kind of sentence a paper's sentence is: a question, an instruction, the paper's own aim, a statement of
prior work, a method, a finding. Answers quote findings, not the questions a paper asks itself ("RQ1: can
agreement be improved?") nor the instructions of its appendix; the evidence judge (agent/evidence_judge.py) uses
the types as features, and the open-question finder refuses what is plainly not an open question.

Each type is a cue a reader would point at (a question mark, an imperative opening, "this study aims to",
"et al.", "we recruited"); evals/open_questions/labels.jsonl holds hand-labelled types to check them against
(`scisynth eval open-questions` prints each type's precision and recall).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agent.prose import is_publishing_matter, is_whole_sentence
from tools.sections import (
    describes_methods,
    is_body_section,
    only_open_questions,
    opens_part,
    sets_the_question_up,
    with_run_in_parts,
)

_QUESTION = re.compile(r"\?\s*[\"')\]]*\s*$|^\W*(?:RQ\s?\d|Q\d\b|research questions?\b)", re.IGNORECASE)
# Addressed to a reader or an annotator: "Please...", "you should...", "your task", "annotators were instructed to".
# Not a sentence that merely starts with a verb's form ("Rate of complications was 12%", "Select taxa differed")
# nor a study's procedure ("Participants were given 10 mg"): those are findings and methods.
_INSTRUCTION = re.compile(
    r"^\W*please\b|\byou (?:will|should|must|need to|are asked|can|may) (?!not\b)\w+|\byour (?:task|job|answer|"
    r"rating)\b|\b(?:annotators?|raters?|crowd ?workers?|assessors?) (?:(?:were|are|was|is) (?:asked|instructed|"
    r"told)|should|must|need to)\b", re.IGNORECASE)
_AIM = re.compile(
    r"\b(?:(?:the |our |main |primary )?(?:aims?|goals?|objectives?|purpose) (?:of (?:this|the present|our)|was|were|"
    r"is|are) |this (?:study|paper|work|article|review) (?:aims|aimed|seeks|sought|examines|investigates|"
    r"explores|asks|addresses)|(?:the (?:current|present)|our) (?:study|paper|work|article|review|trial|research) "
    r"(?:aims|aimed|seeks|sought)|"
    r"we (?:aim(?:ed)?|sought|set out|ask(?:ed)?|wanted|wish(?:ed)?) to|we (?:ask|asked|"
    r"investigate|investigated|examine|examined|test|tested|explore|explored) (?:whether|if|how|why|what)|"
    r"we hypothesi[sz]ed?|(?:our|the) hypothesis (?:is|was)|to test (?:our|the|this) hypothes[ie]s\b|"
    r"in this (?:\w+ )?(?:paper|study|work|article|review|perspective|commentary|essay|chapter),? we "
    r"(?:propose|present|introduce|investigate|study|examine|explore|describe|address|discuss|summari[sz]e|review|"
    r"outline|highlight)|this (?:\w+ )?(?:review|perspective|commentary|essay|chapter) (?:discusses|summari[sz]es|"
    r"describes|reviews|outlines|highlights|presents|covers)|(?:in )?(?:section|chapter) "
    r"\d+,? (?:we )?(?:describes?|presents?|discuss(?:es)?|introduces?))", re.IGNORECASE)
_PRIOR = re.compile(
    r"\bet al\b|\[\d+(?:[,\u2013-]\s*\d+)*\]|\(\s*[A-Z][\w'-]+(?: and [A-Z][\w'-]+| et al\.?)?,? \d{4}[a-z]?"
    r"|\b(?:previous(?:ly)?|prior|earlier|recent) (?:stud(?:y|ies)|work|reports?|research|findings)\b"
    r"|\b(?:has|have) (?:been|long been) (?:shown|reported|suggested|proposed|demonstrated|described)\b"
    r"|\b(?:studies|authors|researchers) (?:have )?(?:shown|reported|found|suggested|demonstrated)\b")
_METHOD = re.compile(
    r"\bwe (?:used|use|performed|perform|measured|recruited|collected|trained|computed|calculated|applied|"
    r"conducted|obtained|extracted|selected|randomi[sz]ed|fitted|fit|implemented|followed|adopted|employed)\b"
    r"|\b(?:were|was) (?:measured|recruited|randomi[sz]ed|enrolled|collected|performed|used|obtained|"
    r"calculated|computed|assessed|incubated|analy[sz]ed|extracted|trained|fitted|defined|excluded|included|"
    r"stained|sequenced|cultured|treated|centrifuged|diluted|recorded|administered)\b", re.IGNORECASE)
_FINDING = re.compile(
    r"\b(?:we (?:show|showed|found|find|observed|observe|demonstrate|demonstrated|report|conclude|identified|"
    r"detected)|(?:these|our|the) (?:results|findings|data|analyses|experiments) (?:show|showed|suggest|suggested|"
    r"indicate|indicated|demonstrate|demonstrated|reveal|revealed|support|confirm)|in conclusion|"
    r"(?:was|were) (?:significantly |markedly |substantially )?(?:higher|lower|greater|smaller|increased|"
    r"decreased|reduced|improved|associated|correlated)|(?:significantly|markedly) (?:\w+ed|higher|lower))\b"
    r"|\b[pP]\s*[<=>≤]\s*0?\.\d|\b(?:OR|HR|RR|CI)\b", re.IGNORECASE)


# The authors speaking of their own work: a sentence that cites another ("Our model reaches 91.2 F1, above SciBERT
# (Beltagy et al., 2019)") still states their finding; "Smith et al. showed ..." alone states Smith's.
_OWN_VOICE = re.compile(r"\b(?:[Ww]e(?! previously\b)|[Oo]ur(?! (?:understanding|knowledge|group|previous|earlier|"
                        r"prior|region|country|laboratory|lab)\b)|(?:[Tt]his|[Tt]he present) (?:study|paper|work|trial|"
                        r"analysis|article))\b")


@dataclass(frozen=True)
class SentenceType:
    """The cues a sentence carries; more than one may hold ("We found, as Smith et al. did, ...")."""

    question: bool
    instruction: bool
    aim: bool
    prior_work: bool
    method: bool
    finding: bool

    @property
    def quotable_as_answer(self) -> bool:
        """Neither a question nor an instruction: what an answer may quote."""
        return not (self.question or self.instruction)

    @property
    def main(self) -> str:
        """One name for it, the strongest cue first (what the labelled set is compared with)."""
        for name in ("question", "instruction", "aim", "finding", "prior_work", "method"):
            if getattr(self, name):
                return name
        return "other"


@lru_cache(maxsize=8192)
def sentence_type(text: str) -> SentenceType:
    """The sentence's cues; remembered, since the judge and the composer ask about the same sentences."""
    return SentenceType(question=bool(_QUESTION.search(text)), instruction=bool(_INSTRUCTION.search(text)),
                        aim=bool(_AIM.search(text)), prior_work=bool(_PRIOR.search(text)),
                        method=bool(_METHOD.search(text)), finding=bool(_FINDING.search(text)))


def is_own_finding(text: str, section: str = "") -> bool:
    """Whether the sentence may state the paper's own finding, what a stance rests on and a hypothesis builds on:
    not a question, an instruction, a statement of aim, what earlier work showed (unless the authors speak of their
    own in it too) or the publisher's matter
    (`is_publishing_matter`: "Keywords: ..."), and not from a part that sets the question up or says how the work
    was done (`section`, when known, or a structured abstract's label run in: Background, Introduction, Objectives;
    Methods, Design, "MAIN OUTCOME MEASURES": a table quoted "PATIENTS AND METHODS During a 12-year period, one
    author evaluated and treated 170 adult referrals ..." as a paper's answer on treating insomnia); nor a caption, a
    table or back matter, which `is_body_section` keeps out of answers: "Changes in milk oligosaccharides with time
    after birth." titles a figure and says nothing of what changed; nor a section only about what is left open:
    "Work is underway to further improve the compiler" under "Future work"; nor half a sentence a layout cut). (An
    infinitive objective, "To evaluate X.", is left to its section: read as a cue it cost PubMedQA's pooled
    abstracts, which have no sections, more than it gained.)"""
    kind = sentence_type(text)
    earlier_work = kind.prior_work and not _OWN_VOICE.search(text)
    return not (kind.aim or kind.question or kind.instruction or earlier_work or sets_the_question_up(section)
                or opens_part(text, section) in ("setting", "methods")
                or describes_methods(section)
                or not is_body_section(section) or only_open_questions(section) or is_publishing_matter(text)
                or not is_whole_sentence(text))


def own_findings(texts: list[str], sections: list[str] | None = None, sizes: list[int] | None = None) -> list[bool]:
    """`is_own_finding` for each of a paper's sentences in reading order (`sections`: each one's, when known;
    `sizes`: how many each passage holds), a structured abstract's run-in part carried to the sentences after its
    label: "BACKGROUND Diabetes is common. Statins are thought to lower cholesterol." are both background."""
    sections = with_run_in_parts(texts, sections or [""] * len(texts), sizes)
    return [is_own_finding(text, section) for text, section in zip(texts, sections, strict=True)]
