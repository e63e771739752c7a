"""The stance classifier's parts: its cues, the shipped model and manifest, the verdict rule, refusing bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.claim_check import ClaimCheck, Counts, PaperStance, Rationale, verdict_of
from agent.sentence_types import is_own_finding
from agent.stance import (
    STANCE_FEATURES,
    WEIGHTS,
    load_stance,
    rationale_rows,
    shipped_stance,
    stance_features,
)
from api.answers import MRKDWN, format_check

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _features(claim: str, rationale: str) -> dict[str, float]:
    row = stance_features(claim, [rationale, "Mice were housed in cages."], np.array([0.9, 0.1]),
                          np.array([0.8, 0.1]), [0])
    return dict(zip(STANCE_FEATURES, row.tolist(), strict=True))


def test_a_stance_rests_on_findings_not_on_aims_questions_or_a_papers_background() -> None:
    objective = "To evaluate in vitro the essential oils against the Ross River virus."
    background = "The essential oils are commonly used topically to prevent mosquito bites."
    result = "The essential oils reduced the cytopathic effect but did not display virucidal activity."
    assert not is_own_finding(objective, "Abstract > Objectives")
    assert not is_own_finding("Do essential oils inhibit it?")
    assert not is_own_finding("Keywords: Smoking cessation; Counseling; Pregnancy; Spouses", "Abstract > Conclusion")
    assert not is_own_finding("Thus, the current study aimed at focusing on university students.")
    assert is_own_finding("The present study investigates the question in 13,815 smokers and finds no effect.")
    assert not is_own_finding("We hypothesized that essential oils inhibit the virus.")
    assert not is_own_finding("Smith et al. showed that the oils inhibit the virus.")  # another paper's finding
    assert not is_own_finding(background, "Abstract > Background") and is_own_finding(background, "Discussion")
    assert is_own_finding(result, "Abstract > Results") and is_own_finding(result)
    # a figure's title, a table or a paper it cites is not what the paper found (a claim check once rested on
    # "Changes in giant panda milk oligosaccharides with time after birth.", the title of Figure 4)
    caption = "Changes in milk oligosaccharides with time after birth."
    assert not is_own_finding(caption, "3. Results > 3.3. Transition to mature milk > Figure 4")
    assert not is_own_finding(caption, "Results > Caption") and not is_own_finding(result, "References")
    assert not is_own_finding("| Day 30 | 4.1 |", "Results > Table 2") and is_own_finding(caption, "3. Results")
    # nor what a section about the paper's open questions says (a claim check rested on "Work is underway to further
    # improve the performance of our compiler." under "10. Future Work")
    underway = "Work is underway to further improve the speed of the compiler."
    assert not is_own_finding(underway, "10. Future Work") and not is_own_finding(result, "5 Discussion > Limitations")
    assert is_own_finding(result, "6 Conclusions and future work")  # a part that also sums up states findings
    assert is_own_finding(result, "8 Discussion & future work > 8.1 Summary of the results")
    # nor half a sentence a column break left ("We are able to outperform the fastest available compiler and the")
    assert not is_own_finding("We are able to outperform the fastest available compiler and the", "7. Evaluation")
    assert not is_own_finding("barriers to reading without any loss in comprehension.", "8 Discussion")
    # a results part named like one ("3.1 Functional limitations", "Patients' perspectives", "Caption quality")
    for part in ("3 Results > 3.1 Functional limitations", "3 Results > Patients' perspectives",
                 "4 Results > 4.3 Economic outlook", "4 Findings and limitations",
                 "5 Experiments > 5.2 Caption quality"):
        assert is_own_finding(result, part), part
    for part in ("7 Further work", "Directions for further research", "7 Future directions > 7.1 Overview"):
        assert not is_own_finding(result, part), part
    sentences = [background, objective, result, "Cells were grown in DMEM."]
    sections = ["Abstract > Background", "Abstract > Objectives", "Abstract > Results", "Abstract > Methods"]
    rated = np.array([0.9, 0.8, 0.5, 0.1])
    eligible = [is_own_finding(text, section) for text, section in zip(sentences, sections, strict=True)]
    assert rationale_rows(rated, eligible) == [2]  # the best of those it may rest on (a Methods part is none)
    assert rationale_rows(rated, [False, False, True, True]) == [2, 3]  # the two best, in reading order
    assert rationale_rows(rated) == [0, 1] and rationale_rows(rated, [False] * 4) == [0, 1]  # none eligible: all


def test_a_structured_abstracts_label_run_in_says_its_part() -> None:
    """SciFact's and PubMed's abstracts print "BACKGROUND Patients with ..." as running text: a table quoted
    "PATIENTS AND METHODS During a 12-year period, one author evaluated ..." as a paper's answer on treating
    insomnia, and a review's "In this review, we summarize ..." as another's."""
    result = "Statins lowered blood cholesterol by 30% over 12 weeks."
    for setting in ("BACKGROUND Patients with diabetes are at high risk of bleeding.", "AIMS: patients with diabetes "
                    "have high platelet reactivity.", "Background Blindness is thought to be common in Sudan.",
                    "Objective: To assess whether statins lower cholesterol.", "OBJECTIVES AND BACKGROUND We asked it.",
                    "PATIENTS AND METHODS During a 12-year period, 170 adults were treated.",
                    "MAIN OUTCOME MEASURES Rate of cervical cancer.", "DESIGN, SETTING, AND PARTICIPANTS A cohort.",
                    "Methods: Cholesterol was measured in 300 adults.",
                    "In this Opinion article, we discuss the roles of p53.", "This Review discusses recent advances.",
                    "In this review, we summarize the functional role of Th17 cells."):
        assert not is_own_finding(setting), setting
    for setting in ("Design, Setting, and Participants: A cohort of 300.", "Study design: Randomised trial.",
                    "Patients and Methods: We enrolled 300 adults.", "Materials and methods Mice were fed chow.",
                    "Background and aims Liver fibrosis is common.", "MAIN OUTCOMES AND MEASURES Death at 30 days.",
                    "Aim of the study: To evaluate statins.", "RESEARCH DESIGN AND METHODS We enrolled 4,120 adults.",
                    "MATERIAL AND METHODS We enrolled 300.", "Methods/design This trial randomises 300.",
                    "EXPERIMENTAL DESIGN We treated 40 rats.", "Experimental approach We treated 40 rats.",
                    "Search methods We searched MEDLINE.", "Data collection and analysis Two authors extracted data.",
                    "BACKGROUND AND METHODS We enrolled 300.", "OBJECTIVES AND DESIGN A cohort of 300."):
        assert not is_own_finding(setting), setting
    # a label naming results too opens results; a capitalised word that is no label opens a finding (a hostile
    # review's cases from psychology, ML, physics and neuroscience)
    for finding in (result, "RESULTS Statins lowered cholesterol.", "CONCLUSION We demonstrate that CRP predicts it.",
                    "METHODS AND RESULTS We found that statins lowered it.", "Background noise was lower with it.",
                    "MEASUREMENTS AND MAIN RESULTS Mortality was 23% in the intervention group.",
                    "METHODS AND FINDINGS Among 4,120 adults, mortality fell by 12%.",
                    "Design choices mattered less than data size.", "HIV Incidence fell by half.",
                    "Hypothesis 1 was supported (beta = 0.32).", "Importance Sampling reduced the variance by 40%.",
                    "Background EEG power increased by 20%.", "Background X-ray emission was detected at 3 sigma.",
                    "Design 2 reduced energy use by 30%.", "Setting K = 5 gave the highest F1.",
                    "Methods A and B reached 91% accuracy.", "Participants 3 and 7 did not complete the task.",
                    "Context A produced faster responses.", "AIMS scores fell by 3.1 points with olanzapine.",
                    "Objective Structured Clinical Examination scores rose by 12%.",
                    "Materials Project data list 1,200 compounds.", "The Background Subtraction reduced noise.",
                    "Purpose Built Sensors cut costs.",
                    "METHODOLOGY/PRINCIPAL FINDINGS Bednets reduced malaria by 45%.", "OBSERVATIONS Statins lowered "
                    "mortality by 12%.", "Main results We included 39 trials.", "Key results Atorvastatin reduced "
                    "infarct volume by 40%.", "Authors' conclusions Exercise reduced symptoms."):
        assert is_own_finding(finding), finding
    # a run-in heading of a body section is that section's ("3 Results", not a structured abstract's Methods)
    assert is_own_finding("Primary Outcome The primary outcome occurred in 12.1%.", "3 Results")
    assert not is_own_finding("Primary Outcome The primary outcome occurred in 12.1%.", "Abstract")
    # a finding that cites what it beats is still the authors'; another paper's finding alone is not
    assert is_own_finding("Our model reaches 91.2 F1 on SciERC, above SciBERT (Beltagy et al., 2019).", "Results")
    assert not is_own_finding("Beltagy et al. (2019) reached 88 F1 on SciERC.", "Results")
    for earlier in ("It has been reported that US adults consume 3 g of salt [4].", "Recent studies [12, 13] have "
                    "advanced our understanding of Th17 cells.", "We previously reported that it rose [12].",
                    "Smith et al. (2019) reported that, in our region, malaria fell by 30%."):
        assert not is_own_finding(earlier, "Results"), earlier
    assert not is_own_finding(result, "2 Materials and methods") and is_own_finding(result, "3 Results")
    # the label is looked for at the start only: a long run of white space costs nothing
    from tools.sections import run_in_part

    assert run_in_part("DESIGN" + " " * 100_000 + ",") == "methods"  # a label on a line of its own, read at once
    assert run_in_part("Designs" + " , " * 30_000 + "x") is None  # three minutes before
    assert run_in_part("BACKGROUNDS" + " " * 100_000 + ".") is None
    assert is_own_finding("Received" + " " * 100_000 + "x.")  # the history-line rule: ten minutes, by extrapolation
    # a run-in part lasts to the next label: the second background sentence restates the claim as much as the first
    from agent.sentence_types import own_findings

    abstract = ["BACKGROUND Diabetes is common.", "Statins are thought to lower cholesterol.",
                "METHODS We randomised 812 adults.", "Cholesterol was measured.", "RESULTS Statins lowered it by 38%.",
                "Muscle pain was rare."]
    assert own_findings(abstract) == [False, False, False, False, True, True]
    assert own_findings(abstract, sizes=[1, 5]) == [False, True, False, False, True, True]  # a new passage
    # BMJ's single capitalised labels, read within an abstract's parts; JAMA's many-word ones anywhere
    bmj = ["Objectives To assess statins.", "Design Prospective cohort study.", "Setting 312 general practices.",
           "Participants 4,120 adults.", "Results Mortality fell by 12%."]
    assert own_findings(bmj) == [False, False, False, False, True]
    jama = ["Importance Despite little evidence, biomarkers are used.", "Objective To determine associations.",
            "Design, Setting, and Participants Prospective cohort study.", "Results A total of 750 women enrolled.",
            "Conclusions and Relevance Biomarkers did not predict fertility."]
    assert own_findings(jama)[1:] == [False, False, True, True]
    # a paragraph break ends a part, as a new label does (the evidence table, the answer and a hypothesis's premises
    # read parts paragraph by paragraph)
    from retrieval.sentences import split_sentences
    from tools.sections import paragraph_sizes, run_in_parts

    text = "Objective: To test statins. We randomised 812 adults.\n\nMortality fell by 12% in the statin group."
    spans = split_sentences(text)
    assert paragraph_sizes(text, spans) == [2, 1]
    assert run_in_parts([text[a:b] for a, b in spans], paragraph_sizes(text, spans)) == ["setting", "setting", None]
    # only an abstract, the front matter or a passage of no section holds such parts
    assert own_findings(abstract, ["3 Results"] * 6)[1] and not own_findings(abstract, ["Abstract"] * 6)[1]


def test_cues_of_agreement_and_disagreement() -> None:
    opposed = _features("Aspirin increases the risk of bleeding.", "Aspirin reduced the risk of bleeding.")
    assert opposed["directions_oppose"] == 1.0 and opposed["negation_disagrees"] == 0.0
    null = _features("Aspirin lowers stroke risk.", "There was no significant difference in stroke risk.")
    assert null["null_only_in_rationale"] == 1.0 and null["negation_disagrees"] == 1.0
    agreed = _features("Aspirin lowers stroke risk.", "Aspirin lowered stroke risk by 20%.")
    assert agreed["directions_oppose"] == 0.0 and agreed["direction_product"] == 1.0
    assert agreed["claim_words_covered"] == 1.0 and agreed["best_evidence"] == pytest.approx(0.9)


def test_the_shipped_model_beats_its_baselines_in_cross_validation() -> None:
    validation = shipped_stance().manifest["cross_validation"]
    stage2 = validation["stage2_supports_or_contradicts"]
    assert stage2["classifier (gold rationale)"]["macro_f1"] > stage2["claim-only baseline"]["macro_f1"]
    assert stage2["classifier (gold rationale)"]["accuracy"] > stage2["majority baseline"]["accuracy"]
    three = validation["three_way"]
    assert three["two stages"]["macro_f1"] > max(three["one stage"]["macro_f1"],
                                                 three["majority (not enough info)"]["macro_f1"])
    assert shipped_stance().manifest["max_claims"] is None  # trained on every train claim


def test_the_shipped_manifest_names_the_shared_data_by_hash() -> None:
    from tools.documents import sha256_of_file

    files = shipped_stance().manifest["data"]["files"]
    present = {name: SHARED / name for name in files if (SHARED / name).exists()}
    if not present:
        pytest.skip(f"the shared data is not at {SHARED}")
    assert {name: sha256_of_file(path) for name, path in present.items()} == {n: files[n] for n in present}


def test_a_stance_file_that_is_not_one_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"SCISYNTH_STANCE_MODEL=.*unset it"):
        load_stance(str(tmp_path / "missing.json"))
    data = json.loads(WEIGHTS.read_text())
    for change, reason in (({"features": ["cosine"]}, "other features"), ({"contradicts_threshold": 1.5},
                           "between 0 and 1"), ({"evidence": {"mean": [0.0]}}, "incomplete"),
                           ({"contradicts": {**data["contradicts"], "coef": [1.0, 2.0]}}, "finite numbers")):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**data, **change}))
        with pytest.raises(ValueError, match=reason):
            load_stance(str(bad))
    assert load_stance("") is shipped_stance()


@pytest.mark.parametrize(("supports", "contradicts", "verdict"), [
    (0, 0, "insufficient"), (2, 0, "supported"), (0, 1, "contradicted"), (3, 1, "mixed")])
def test_the_verdict_is_counting(supports: int, contradicts: int, verdict: str) -> None:
    assert verdict_of(Counts(supports=supports, contradicts=contradicts, insufficient=4)) == verdict


def test_a_check_reads_as_its_verdict_consensus_and_quotes() -> None:
    quote = Rationale(quote="Aspirin did not lower <!channel> stroke risk.", page=4, section="Results", n=1)
    result = ClaimCheck(claim="Aspirin lowers stroke risk", verdict="contradicted",
                        counts=Counts(supports=0, contradicts=1, insufficient=1), trace=[], papers=[
                            PaperStance(paper_id="p1", title="A trial", year=2020, stance="contradicts",
                                        confidence=0.7, judged_by="stance-classifier", rationale=[quote]),
                            PaperStance(paper_id="p2", title="Cages", year=None, stance="insufficient",
                                        confidence=0.9, judged_by="stance-classifier", rationale=[])])
    text = format_check(result, MRKDWN)
    assert "contradicted (0 papers support, 1 contradicts, 1 does not address it)" in text
    assert "[1] \u201cAspirin did not lower &lt;!channel&gt; stroke risk.\u201d (Results, p. 4)" in text
    assert "Do not address it: Cages (n.d.)" in text


def test_curly_apostrophes_and_broken_numbers_are_read_safely() -> None:
    curly = _features("Aspirin lowers stroke risk.", "Aspirin didn\u2019t lower stroke risk.")
    straight = _features("Aspirin lowers stroke risk.", "Aspirin didn't lower stroke risk.")
    assert curly == straight and curly["directions_oppose"] == 1.0
    broken = stance_features("x", ["s"], np.array([np.nan]), np.array([np.inf]), [0])
    assert np.all(np.isfinite(broken))
    judgement = shipped_stance().judge(broken)
    assert judgement.confidence < 1.0


@pytest.mark.parametrize(("claim", "opposite"), [
    ("Aspirin lowers the risk of stroke.", "Aspirin raises the risk of stroke."),
    ("Smoking increases lung cancer risk.", "Smoking reduces lung cancer risk."),
    ("Vitamin D does not reduce fracture risk.", "Vitamin D does reduce fracture risk."),
    ("ALDH1 expression is associated with poor prognosis.", "ALDH1 expression is not associated with poor prognosis."),
    ("Higher BMI predicts mortality.", "Lower BMI predicts mortality."),
    ("TNF-alpha mediates inflammation.", None)])
def test_the_stance_encoder_experiment_negates_a_claim_by_one_rule_or_leaves_it_out(claim: str,
                                                                                  opposite: str | None) -> None:
    from research.experiment_stance_encoder import negated

    assert negated(claim) == opposite


def test_a_heading_padded_with_white_space_is_read_at_once() -> None:
    """A section title from an upload with a run of 100,000 spaces made two section rules backtrack over every way
    to split it (seconds for each sentence judged); titles are read with single spaces."""
    from tools.sections import only_open_questions, sets_the_question_up

    padded = " " * 100_000
    assert not only_open_questions(f"Limitations{padded}x") and not sets_the_question_up(f"Background{padded}x")
    assert only_open_questions(f"7{padded}Future{padded}work") and sets_the_question_up(f"Abstract >{padded}Background")
