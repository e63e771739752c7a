"""Hypotheses without a model: findings are body prose, open questions are the ones authors state, and a
template pairs two different papers or none. Journal-style PDFs made here, ingested and asked for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.gaps import gap_kind, leaves_open, stated_gaps
from agent.llm.scripted import ScriptedChatModel
from agent.novelty import NoveltyChecker, follow_up_query
from agent.prose import has_verb, is_body_prose, looks_like_reference
from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from agent.state import PriorWork
from agent.turn import TurnResult
from api.answers import OPEN_QUESTIONS_HEADING, format_result
from retrieval.chunking import chunk_document
from retrieval.embeddings import Embedder
from retrieval.search import Passage
from tests.conftest import ask, make_runtime
from tests.pdf_factory import write_journal_pdf
from tools.documents import Block, Document, Section

FONTS = {1: ("hebo", 12), 2: ("hebo", 10)}
HEADINGS = [(1, "Background"), (1, "Methods"), (1, "Results"), (1, "Discussion"), (1, "Limitations"),
            (1, "Conclusions")]
REFERENCES = ["1. Smith J, Lee AB. Treadmill training improves step length after stroke: a cohort study. "
              "J Neuroeng Rehabil. 2019;16:34.",
              "2. Okafor C, Yilmaz D. Treadmill training and balance in older adults. Gait Posture. 2018;61:12-9."]
STROKE_TITLE = "Treadmill training and step length in chronic stroke"
STROKE = {
    "Background": "Stroke survivors often walk with short and asymmetric steps. Treadmill training is widely used "
                  "in rehabilitation clinics to restore a longer step after stroke.",
    "Methods": "Forty survivors of chronic stroke trained on a treadmill three times a week for six weeks. Step "
               "length was measured with a motion capture system before and after the training period.",
    "Results": "Step length increased by twelve percent after six weeks of treadmill training in chronic stroke. "
               "Walking speed increased together with step length in most participants.",
    "Discussion": "Treadmill training lengthened the steps of stroke survivors in our cohort. However, it remains "
                  "unclear whether the longer step persists beyond six months after the training ends.",
    "Limitations": "The sample was small and was recruited from a single rehabilitation clinic. Further studies "
                   "with larger cohorts are needed to confirm the effect of treadmill training on step length.",
    "Conclusions": "Six weeks of treadmill training produced a longer step in people with chronic stroke.",
}
PARKINSON_TITLE = "Step length and walking speed in Parkinson disease"
PARKINSON = {
    "Background": "People with Parkinson disease walk with short shuffling steps. Slow walking speed predicts "
                  "falls in this population.",
    "Methods": "Thirty people with Parkinson disease walked on a treadmill at their preferred speed. Step length "
               "and walking speed were recorded with wearable inertial sensors.",
    "Results": "Step length in Parkinson disease correlated strongly with walking speed on the treadmill. "
               "Patients who took longer steps also walked faster.",
    "Discussion": "Shorter steps were associated with slower walking in Parkinson disease. Our participants had "
                  "mild disease and did not use walking aids.",
    "Limitations": "We did not assess the effect of medication timing on step length. Future work should test "
                   "whether step length training changes walking speed in Parkinson disease.",
    "Conclusions": "Step length is closely tied to walking speed in people with Parkinson disease.",
}
TOPIC = "treadmill training to lengthen steps and improve walking"


def passage(text: str, section: str = "Results", title: str = STROKE_TITLE) -> Passage:
    return Passage(chunk_id=1, paper_id="p", title=title, section=section, page=1, page_start=1, page_end=1,
                   text=text, score=1.0)


@pytest.mark.parametrize(("sentence", "section", "body"), [
    ("Step length increased by twelve percent after six weeks of treadmill training.", "Results", True),
    ("Smith J, Lee AB. Treadmill training improves step length. J Neuroeng Rehabil. 2019;16:34.", "Discussion",
     False),
    ("[12] A. Smith and B. Lee, Treadmill training after stroke, in Proceedings of the Gait Society, 2019.",
     "Results", False),
    (STROKE_TITLE + ".", "Background", False),  # the paper's own title
    ("Figure 2: Step length increased after six weeks of training in most of the participants.", "Results", False),
    ("We thank the participants and the clinic staff who helped with the recordings.", "Acknowledgements", False),
    ("The authors declare that they have no competing interests in this work.", "Competing interests", False),
    ("Department of Rehabilitation Medicine, University Hospital Zurich, Switzerland and Germany", "Background",
     False),  # an affiliation line: no verb
    ("Scientific Paper Embeddings using Citationinformed Transformers for Documents", "Results", False),
    ("The citation edges in the literature graph provide a wealth of information (e.g., at what", "Results",
     False),  # cut at a page break
    ("In the previous section, we described the structure of the literature graph in detail.", "Methods", False),
    ("is being cited and whether it is accelerating, and opens the door to new analyses.", "Results", False),
    ("1 We also tried longer training and further studies are needed.", "Results", False),  # a footnote
    ("mRNA levels of BDNF increased after six weeks of training.", "Results", True),
    ("Step length increased after training in most of the participants.", "Results > Figure 2", False),
    ("The study was funded by the national research council of the country.", "Funding Statement", False),
    ("The authors declare that there are no competing interests at all here.", "Declaration of Competing Interest",
     False),
    ("All authors wrote and approved the final version of the manuscript.", "CRediT authorship contribution "
     "statement", False),
    # a publisher's boilerplate left in a first page's text, under no heading of its own
    ("*To whom correspondence should be addressed at the department.", "Front matter", False),
    ("This is an open access article distributed under the terms of the Creative Commons Attribution License.",
     "Front matter", False),
    ("Copyright: © 2018 Smith et al. Treadmill training was well tolerated.", "Abstract", False),
    ("We compared open access articles with subscription articles in their citation counts.", "Results", True),
    ("Keywords Alcohol, computer-generated feedback, efficacy, intervention, job-seekers.", "Abstract", False),
    ("Keyword searches returned 1,204 records, of which 87 met the inclusion criteria.", "Results", True),
])
def test_body_prose_rule(sentence: str, section: str, body: bool) -> None:
    assert is_body_prose(passage(sentence, section), sentence) is body


def test_reference_entries_and_verbs() -> None:
    assert looks_like_reference("Okafor C, Yilmaz D. Treadmill training and balance. Gait Posture. 2018;61:12-9.")
    assert not looks_like_reference("Smith et al. (2019) showed that treadmill training lengthens steps.")
    assert has_verb("Patients who took longer steps also walked faster.")
    assert not has_verb("Kinematic signatures of gait after stroke")
    # a physics paper's statement of its assumptions is a sentence too (a new user's H0 question went unanswered)
    assert has_verb("In the CMB calculations we assume a Hubble constant of H0 = 75 km/s/Mpc throughout.")


@pytest.mark.parametrize(("sentence", "section", "kind"), [
    ("Further studies with larger cohorts are needed to confirm the effect.", "Discussion", "future work"),
    ("It remains unclear whether the longer step persists beyond six months.", "Discussion", "open question"),
    ("The main limitation of this study is its small sample.", "Discussion", "limitation"),
    # A plain null result is a finding (evals/open_questions/LABELLING.md); a conflict with other work is open.
    ("The intervention did not improve balance in older adults.", "Results", None),
    ("In contrast to previous studies, training did not change balance.", "Discussion",
     "negative or conflicting result"),
    ("The results on balance are conflicting.", "Discussion", "negative or conflicting result"),
    ("However, scaling production to industry is hard.", "Future outlook", "future work"),
    ("However, scaling production to industry is hard.", "Conclusions and Future Work", None),  # a summary too
    ("To help future research, we release the corpus and the models.", "Conclusion", None),
    ("We predict the citation rate of a paper in the future from its early citations.", "Methods", None),
    ("We did not have an a priori expectation about the distribution.", "Statistical analysis", None),
    ("Step length increased after training.", "Results", None),
    ("The sample was small and came from one clinic.", "Limitations", "limitation"),  # all of a Limitations section
    ("The PDF is open access and the code is open source.", "Methods", None),
    ("Two participants failed to complete the protocol.", "Results", None),
    ("Walking speed was limited to 1.2 m/s for safety.", "Methods", None),
    ("Functional limitations in daily activity were common in the cohort.", "Results", None),
    ("We aim to describe gait after stroke.", "Introduction", None),
    ("The groups did not differ at baseline.", "Results", None),
    ("The corpus is made available to future studies.", "Conclusion", None),
    ("The mechanism is unclear.", "Discussion", "open question"),
    ("Whether the effect persists is not known.", "Discussion", "open question"),
    ("This has yet to be examined in older adults.", "Discussion", "open question"),
    ("It is uncertain whether the gain lasts.", "Discussion", "open question"),
    ("These results need to be replicated.", "Discussion", "future work"),
    ("Future trials should recruit more patients.", "Discussion", "future work"),
    ("Training did not significantly change balance.", "Results", None),
    ("There were no significant reductions in falls.", "Results", None),
    # An unknown an introduction names is what the paper then studies; the same words in a discussion stay open.
    ("Whether the effect persists has not been studied.", "1. Introduction", None),
    ("Whether the effect persists has not been studied.", "Discussion", "open question"),
    ("We open-source our human evaluation data and code for future research.", "Conclusion", None),
    ("In this batch a total of 30 summaries need to be evaluated in future work.", "Appendix B > Instructions", None),
    ("RQ2: Do humans benefit from automated alignment in future annotation?", "Introduction", None),
    ("Further evidence is needed to substantiate this hypothesis.", "Discussion", "future work"),
    ("In vitro growth may not reflect growth in the wild.", "Discussion", "limitation"),
    ("To overcome this limitation, we add a second reader.", "Methods", None),
    ("We suspect that the bound can be improved to a constant.", "Open problems", "open question"),
    # what a reviewer found the first version of these rules dropped or added
    ("In future work, we aim to extend the model to three dimensions.", "Future work", "future work"),
    ("These data provide a strong rationale for further studies, which are needed to confirm it.", "Discussion",
     "future work"),
    ("The questionnaire was not validated in children.", "Limitations of the questionnaire", "limitation"),
    ("This discrepancy was mainly due to sampling.", "Discussion", None),
    ("The dataset is made publicly available for future research.", "Conclusion", None),
    # issue 40, a second batch of rules: set phrases the first missed, announcements and purposes that are not gaps
    ("We cannot rule out residual confounding by diet.", "Discussion", "limitation"),
    ("A ceiling effect on the baseline score may have masked a gain.", "Discussion", "limitation"),
    ("We have yet to test the device in children.", "Discussion", "open question"),
    ("It will be important to measure the dose in serum.", "Discussion", "future work"),
    ("Replication in a second cohort is worth pursuing.", "Conclusion", "future work"),
    ("It is worth exploring a coarser grid for speed.", "Conclusion", "future work"),
    ("The pump may act through an unknown mechanism.", "Discussion", "open question"),
    ("Whether the pathway is conserved has not been established.", "Discussion", "open question"),
    ("A knowledge gap remains for rural clinics.", "Discussion", "open question"),
    ("Larger trials must confirm these effects.", "Discussion", "future work"),
    ("It is important to acknowledge the limitations of this study.", "Discussion", None),
    ("To test whether uptake was limited by transport, we added a carrier.", "Results", None),
    ("However, how the kinase is regulated remains unclear.", "Abstract", None),
    ("Existing benchmarks have several limitations.", "1 Introduction", None),
    ("A limitation of our earlier model was its cost.", "1 Introduction", "limitation"),
    ("Unfortunately, no serum samples were kept from the first visit.", "Discussion", "limitation"),
    ("The small number of sites precludes a regional comparison.", "Discussion", "limitation"),
    ("Future optimisation could target the linker length.", "Discussion", "future work"),
    ("A full explanation must await a crystal structure of the complex.", "Conclusions", "future work"),
    ("How can the model be extended to mixed cohorts?", "Conclusion and outlook", "open question"),
    ("Three patients were excluded because of conflicting records.", "Methods > Participants", None),
    ("The sensor uses low power radios in the field.", "Discussion", None),
    ("The sample was mixed with the buffer and incubated.", "Results", None),
    ("When test queries are not known a priori, we sample them.", "Conclusion", None),
    ("The temperature of the halo is entirely unknown.", "Discussion", "open question"),
    # what a hostile review of those cues found (each probe written for it, not taken from the labelled set)
    ("Smoking status was unknown for 21 participants (7%).", "Results", None),
    ("The function of the second domain is unknown.", "Discussion", "open question"),
    ("It remains to prove that the estimator is consistent.", "3 Analysis", None),
    ("Body weight was not known for nine animals and was imputed.", "Subjects and methods", None),
    ("Enrolment of 240 patients is planned over two years.", "Methods/design > Sample size", None),
    ("Waves travel in one direction along the channel.", "4 Results", None),
    ("Another direction worth pursuing is to train a multilingual model.", "Conclusion", "future work"),
    ("Another related line of work is graph-based learning (Kipf and Welling, 2017).", "7 Related Work", None),
    ("It embeds new papers that have yet to be cited.", "2 Model", None),
    ("The checklist would be useful for ward nurses.", "Conclusion", None),
    ("Temperature effects will be examined in Section 4.", "2 Model", None),
    ("The sum cannot be evaluated in closed form, so we bound it.", "Discussion", None),
    ("The trial lacked power for subgroup comparisons.", "Discussion", "limitation"),
    ("To learn whether the benefit lasts, longer follow-up studies are needed.", "Discussion", "future work"),
    ("Phosphorylation precludes binding of the adaptor.", "Results", None),
    ("The short follow-up precluded an assessment of relapse.", "Discussion", "limitation"),
    ("Why the response fades remains unclear.", "Abstract > Conclusions", "open question"),
    ("Unfortunately, most patients are diagnosed late.", "Introduction", None),
    ("Further improvement in pain scores was seen at week 8.", "Results", None),
    ("This trial fills an important knowledge gap.", "Discussion", None),
    ("Real-time decoding requires more memory than the baseline.", "Discussion", None),
    ("There were no floor or ceiling effects.", "Results", None),
    ("Further analysis will be necessary to separate the two sources.", "Discussion", "future work"),
    # cues batch 4's papers used (measured held out first), in other words
    ("The absence of a control arm limits the generalisability of these results.", "Discussion", "limitation"),
    ("These dates are subject to revision once nuclear markers are sequenced.", "Results", "limitation"),
    ("The next step will be to test the compound in animal models.", "Conclusions", "future work"),
    ("More behavioural and physiological data are now needed to confirm this pattern.", "Discussion", "future work"),
    ("Further technical improvements are critical before the assay reaches the clinic.", "Discussion",
     "future work"),
    ("In planning future multicentre trials, these issues should be considered.", "Conclusions", "future work"),
    ("It would be useful in future trials to compare subgroups.", "Discussion", "future work"),
    ("Whether the benefit lasts remains unanswered by our data.", "Conclusions", "open question"),
    ("The question remains whether the same holds in older adults.", "Discussion", "open question"),
    ("Our dating is in sharp contrast to most of the studies based on mitochondrial markers.", "Discussion",
     "negative or conflicting result"),
    ("These associations are not consistent across cohorts.", "Discussion", "negative or conflicting result"),
    ("The views expressed do not necessarily represent those of the funder.", "Funding", None),
    ("The views expressed do not necessarily represent those of the NIH.", "Sources of support", None),
    ("The large sample partly offsets the limitations of self-report.", "Discussion", None),
    ("These lessons will be instrumental in designing future studies.", "Conclusions", None),
    ("The consortium agreed on a framework for future clinical trials.", "Discussion", None),
    # and what a review of them found they took or missed
    ("Proteins subject to modification by SUMO were enriched in the nucleus.", "Results", None),
    ("The findings were not consistent with the null hypothesis (p < 0.001).", "Results", None),
    ("Our model does not limit the interpretation to linear effects.", "Discussion", None),
    ("Low temperatures limit the applicability of enzyme X in the field.", "Results", None),
    ("The next step will be described in Section 4.", "Discussion", None),
    ("More than 30 trials reported adverse events that would require hospitalisation.", "Results", None),
    ("These strengths do not outweigh the limitations of the retrospective design.", "Discussion", "limitation"),
    ("Future studies should test older adults.", "Discussion > Funding implications", "future work"),
    ("Our next step is to test the compound in animal models.", "Conclusions", "future work"),
    ("The next step is to compute the attention weights for each token.", "Discussion", None),
    # batch 5 joined the tuned set: appendices lettered as ACL's are ("A.1", "D "), a summary under a future-work
    # heading, a conditional "does not hold", a finding that two strains "do not represent" one species
    ("Results may change with future updates of the corpus.", "6 Conclusion > A.1 Accessing the data", None),
    ("What are the limitations of the evidence?", "D.4 Ordinal regression for Likert ratings", None),
    ("A fix is left to future versions of the model.", "6 Conclusion > D Negative social impact", None),
    ("Future versions of the model will handle tables.", "V. Discussion > B. Extensions", "future work"),
    ("B cell development remains poorly understood in this species.", "3 Discussion > B Cell Development",
     "open question"),
    ("Whether T cells home to the gut remains unclear.", "T cell homing", "open question"),  # no appendix

    ("Did readers answer more questions correctly with the tool?", "8 Discussion & future work > 8.1 Summary of "
     "the results", None),
    ("How can the tool be made to scale to whole libraries?", "8 Discussion & future work", "open question"),
    ("How can the tool be made to scale to whole libraries?", "7 Future work > 7.2 Scaling", "open question"),
    ("The compiler must guard the call and exit if the invariant does not hold.", "4.1 Nesting", None),
    ("The two strains do not represent the same species.", "Description of the species", None),
    ("Our sample does not necessarily represent the population of all clinics.", "Discussion", "limitation"),
    ("The analysis is further limited to the cases whose dockets are online.", "6 Conclusion", "limitation"),
    ("The upper temperature limit for growth was not further determined.", "Results", "limitation"),
    ("It remains intriguing that related species differ so much in how long lactation takes.", "Discussion",
     "open question"),
    # and a review of those: findings and exclusion criteria are no limitation, an overview opens a list of problems
    ("Our sample does not reflect the general population of clinic patients.", "5 Discussion", "limitation"),
    ("These results do not generalize to children or adolescents.", "5 Discussion", "limitation"),
    ("Our cohort does not represent the ethnic diversity of the UK population.", "5 Discussion", "limitation"),
    ("Access to care was also limited in rural districts.", "3 Results", None),
    ("Samples with fewer than 1,000 reads were not further analysed.", "2 Methods > 2.3 Sequencing", None),
    ("The role of autophagy in spore germination remains a matter of debate.", "4 Discussion", "open question"),
    ("Extending the model to video would be valuable.", "7 Future directions > 7.1 Overview", "future work"),
    ("The mechanism remains unclear.", "5 Discussion > X.509 Certificate Chains", "open question"),
    ("We train for three epochs with a learning rate of 2e-5.", "Limitations > A.1 Hyperparameters", None),
])
def test_gap_kinds(sentence: str, section: str, kind: str | None) -> None:
    assert gap_kind(sentence, section) == kind


def test_strengths_before_limitations_are_not_limitations() -> None:
    """A "Strengths and limitations" section lists its strengths first: not what the study leaves open."""
    sentences = ["The study was adequately powered and had a high retention rate.",
                 "The intervention is based on theory and on evidence from earlier trials.",
                 "Some limitations should be noted.", "First, the sample was drawn from one university.",
                 "Second, drinking was reported by the students themselves."]
    text = " ".join(sentences)
    found = stated_gaps([passage(text, "Discussion > Strengths and limitations")])
    assert sorted(text[:start].count(".") for _, start in found) == [2, 3, 4]  # the last three sentences
    assert set(found.values()) == {"limitation"}
    alone = stated_gaps([passage(text, "Limitations")])  # a section of limitations alone: every sentence
    assert len(alone) == 5
    # limitations first, then the strengths: the list ends where the strengths begin
    reverse = ("Some limitations should be noted. First, the sample was drawn from one university. The study also "
               "has important strengths. The sample of 913 students was large.")
    found = stated_gaps([passage(reverse, "Discussion > Strengths and limitations")])
    assert sorted(reverse[:start].count(".") for _, start in found) == [0, 1]
    # and no sentence of such a section is a finding to build a hypothesis on
    assert leaves_open("The study was adequately powered.", "Discussion > Strengths and limitations")


def test_captions_are_passages_of_their_own() -> None:
    document = Document(paper_id="p", title="T", source="pdf", sections=[Section("Results", [
        Block("Step length increased after training in most participants.", 2),
        Block("Figure 2. Step length before and after training. Bars show the mean.", 2, kind="caption"),
        Block("Walking speed increased with step length.", 3)])])
    chunks = chunk_document(document)
    assert [(c.section, c.text) for c in chunks] == [
        ("Results", "Step length increased after training in most participants.\nWalking speed increased with "
                    "step length."),
        ("Results > Figure 2", "Figure 2. Step length before and after training. Bars show the mean.")]
    assert chunks[1].page_spans == [(0, 2)]


def _journal(tmp_path: Path, name: str, title: str, texts: dict[str, str]) -> Path:
    return write_journal_pdf(tmp_path / name, HEADINGS, FONTS, REFERENCES, texts=texts, title=title)


def _library(tmp_path: Path, embedder: Embedder, papers: list[tuple[str, dict[str, str]]]) -> Runtime:
    runtime = make_runtime(tmp_path / "home", embedder)
    paths = [_journal(tmp_path, f"paper{i}.pdf", title, texts) for i, (title, texts) in enumerate(papers)]
    assert [r.status for r in runtime.ingestor.ingest_paths(paths)] == ["added"] * len(paths)
    return runtime


def _quoted(result: dict) -> list[str]:
    """Every sentence the turn presents as a finding or an open question: answer quotes, premises, gaps."""
    answer = [c["quote"] for c in result["citations"]]
    return answer + [q["text"] for q in result["open_questions"]]


def test_hypothesize_gives_cited_open_questions_and_pairs_two_papers(tmp_path: Path, embedder: Embedder) -> None:
    runtime = _library(tmp_path, embedder, [(STROKE_TITLE, STROKE), (PARKINSON_TITLE, PARKINSON)])
    result = ask(runtime, TOPIC, mode="hypothesize", n=3)
    questions = {q["text"]: q for q in result["open_questions"]}
    further = ("Further studies with larger cohorts are needed to confirm the effect of treadmill training on step "
               "length.")
    assert further in questions and questions[further]["kind"] == "future work"
    assert questions[further]["section"] == "Limitations" and questions[further]["page"] == 1
    unclear = ("However, it remains unclear whether the longer step persists beyond six months after the training "
               "ends.")
    assert questions[unclear]["kind"] == "open question"
    citations = {c["n"]: c for c in result["citations"]}
    for question in result["open_questions"]:
        assert question["text"] in runtime.catalog.paper_text(question["paper_id"])
        assert citations[question["n"]]["paper_id"] == question["paper_id"]
    for text in _quoted(result):
        assert "Gait Posture" not in text and "2019;16" not in text and text.rstrip(".") not in (
            STROKE_TITLE, PARKINSON_TITLE)
    assert result["hypotheses"], result["hypotheses_note"]
    for hypothesis in result["hypotheses"]:
        papers = {citations[n]["paper_id"] for n in hypothesis["evidence"]}
        assert len(papers) == 2, hypothesis  # never a passage, or a paper, paired with itself
        assert "Both concern" in hypothesis["rationale"] and hypothesis["novelty_queries"]
        # arXiv is off here: a novelty over two papers must not read as one over the literature
        assert hypothesis["novelty_searched"] == "your library only (arXiv was not searched)"
    text = format_result(TurnResult.model_validate(result))
    assert OPEN_QUESTIONS_HEADING in text and "(future work)" in text and "Template hypothesis (no model) 1" in text
    assert "(novelty against your library only (arXiv was not searched))" in text


def test_one_relevant_paper_gives_open_questions_and_no_pairing(tmp_path: Path, embedder: Embedder) -> None:
    runtime = _library(tmp_path, embedder, [(STROKE_TITLE, STROKE)])
    result = ask(runtime, TOPIC, mode="hypothesize", n=3)
    assert result["hypotheses"] == [] and "one paper" in result["hypotheses_note"]
    assert any("larger cohorts" in q["text"] for q in result["open_questions"])
    assert result["hypotheses_note"] in format_result(TurnResult.model_validate(result))


def test_a_model_is_given_the_findings_and_the_open_questions(tmp_path: Path, embedder: Embedder) -> None:
    library = _library(tmp_path, embedder, [(STROKE_TITLE, STROKE), (PARKINSON_TITLE, PARKINSON)])
    drafts = {"hypotheses": [{"statement": "Step length training raises walking speed in Parkinson disease.",
                              "rationale": "Open question [2].", "evidence": [1, 2], "prediction": "p",
                              "experiment": "e", "feasibility": 0.5, "testability": 0.5}]}
    plan = json.dumps({"intent": "hypothesize", "resolved_question": TOPIC, "queries": [TOPIC]})
    model = ScriptedChatModel(responses=[plan, "Not answered.", json.dumps(drafts)])
    runtime = build_runtime(Settings(home=library.settings.storage.home, use_arxiv=False), embedder=embedder,
                            model=model)
    result = ask(runtime, TOPIC, mode="hypothesize", n=1)
    prompt = model.prompts[-1][-1].content
    assert "Open questions the authors state" in prompt and "larger cohorts are needed" in prompt
    assert "Findings (one per passage, quoted)" in prompt
    [hypothesis] = result["hypotheses"]
    assert hypothesis["kind"] == "model" and len(hypothesis["novelty_queries"]) >= 1


def test_novelty_searches_again_from_the_draft_until_decided(library: Runtime) -> None:
    checker = NoveltyChecker(library.searcher, library.scorer, arxiv=None, rounds=2)
    query = "SPECTER citation-informed transformer pretraining"
    stated = next(best.text for p in library.searcher.search(query, k=5)
                  if (best := library.scorer.best(query, p, is_body_prose)))
    restated = checker.check(stated, use_arxiv=False)
    assert restated.queries == [stated] and restated.score == 0.0  # decided in one round: the library says it
    draft = "Citation-informed embeddings of psychology papers predict which findings fail to replicate."
    novel = checker.check(draft, use_arxiv=False)
    assert len(novel.queries) == 2 and novel.queries[0] == draft and novel.score > 0.2
    assert novel.closest and novel.closest[0]["similarity"] < 0.9


def test_a_follow_up_query_is_what_the_closest_work_does_not_cover() -> None:
    closest = [PriorWork(paper_id="p", title="t", similarity=0.6, url=None,
                         quote="Citation embeddings predict paper relatedness.")]
    query = follow_up_query("Citation embeddings of psychology papers predict replication failure.", closest, [])
    assert query == "psychology replication failure"  # "papers" is a stop word of questions about papers
    assert follow_up_query("Citation embeddings predict.", closest, []) is None  # nothing left to look for


def test_one_paper_added_twice_is_never_paired_with_itself(tmp_path: Path, embedder: Embedder) -> None:
    """The stroke paper as a PDF and again as a JSONL record with a subtitle (a preprint and its article)."""
    runtime = _library(tmp_path, embedder, [(STROKE_TITLE, STROKE), (PARKINSON_TITLE, PARKINSON)])
    copy = tmp_path / "copy.jsonl"
    copy.write_text(json.dumps({"id": "stroke-preprint", "title": f"{STROKE_TITLE}: a cohort study",
                                "abstract": " ".join(STROKE.values())}) + "\n")
    assert runtime.ingestor.ingest_paths([copy])[0].status == "added"
    result = ask(runtime, TOPIC, mode="hypothesize", n=5)
    titles = {c["n"]: c["title"] for c in result["citations"]}
    assert result["hypotheses"], result["hypotheses_note"]  # the Parkinson paper is still there to pair with
    for hypothesis in result["hypotheses"]:
        first, second = (titles[n] for n in hypothesis["evidence"])
        assert {first, second} != {STROKE_TITLE, f"{STROKE_TITLE}: a cohort study"}, hypothesis["statement"]
        assert first != second


def test_a_paper_s_setting_is_what_it_studies_not_what_it_cites(embedder: Embedder) -> None:
    """A new user's pairing quoted as an Arabidopsis paper's setting a sentence it cites others for ("...
    (Statello et al, 2021; Yao et al, 2019)"); the setting is the paper's own sentence."""
    from agent.evidence import SentenceScorer
    from agent.reasoning import Leads, RuleReasoner

    def passage(n: int, text: str, section: str) -> Passage:
        return Passage(chunk_id=n, paper_id=f"p{n}", title=f"Paper {n}", section=section, page=1, page_start=1,
                       page_end=1, text=text, score=1.0)

    finding = passage(1, "Phosphorylation of the regulator increased inflammatory gene expression in macrophages "
                         "by 40%.", "Results")
    other = passage(2, "Long noncoding transcripts regulate gene expression at post-translational levels and shape "
                       "inflammatory signalling (Statello et al, 2021; Yao et al, 2019). Here we studied how drought "
                       "stress changes gene expression and phosphorylation in Arabidopsis leaves.", "Introduction")
    drafts = RuleReasoner(SentenceScorer(embedder)).hypotheses(
        "phosphorylation and gene expression", [finding, other], 2, Leads())
    assert drafts, "the finding should be carried to the other paper's setting"
    for draft in drafts:
        assert "Statello" not in " ".join(draft.premises) and "Statello" not in draft.rationale
    # a cited sentence that says what the paper itself did is its setting still
    ours = passage(3, "As in our previous work (Smith et al., 2020), we studied how drought stress changes gene "
                      "expression and phosphorylation in Arabidopsis leaves.", "Introduction")
    drafts = RuleReasoner(SentenceScorer(embedder)).hypotheses(
        "phosphorylation and gene expression", [finding, ours], 2, Leads())
    assert drafts and any("Smith et al." in " ".join(draft.premises) for draft in drafts)
