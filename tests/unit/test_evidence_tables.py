"""Evidence-table pieces that need no library: values read off quotes, columns, table rows read in context, and
the formats a table is written in (a hostile quote never runs as a spreadsheet formula)."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from agent.cell_values import kind_of, read_value, supported
from agent.evidence_tables import Cell, Column, EvidenceTable, Row, columns_for, may_state, table_row_in_context
from api.table_formats import markdown, spreadsheet_text, write
from retrieval.search import Passage


@pytest.mark.parametrize(("kind", "quote", "value"), [
    ("count", "In 2010, a survey was conducted in 313 sheep and 449 goats.", "313 sheep, 449 goats"),
    ("count", "We enrolled patients (n = 1,204) from 12 hospitals.", "n = 1,204"),
    ("count", "S2ORC contains 81.1M papers.", "81.1M papers"),
    ("count", "Results were analyzed by t test; p < 0.001 versus APP mice.", None),
    ("number", "SPECTER achieves a MAP score of 83.8 on the co-view task.", "83.8"),
    ("number", "as described before [57-59].", None),
    ("number", "Seroprevalence was 35.8% in sheep.", "35.8%"),
    ("dataset", "We evaluate on the SciDocs benchmark and the MS-MARCO dataset.", "SciDocs, MS-MARCO"),
    ("dataset", "Analyses were done using Stata 11 (StataCorp, TX, USA).", None),
    ("metric", "We report macro F1 and nDCG for the ranking tasks.", "macro F1, nDCG"),
    ("design", "A randomised controlled trial, double-blind and placebo-controlled.",
     "randomised controlled trial, double-blind, placebo-controlled"),
    ("design", "This was not a randomized trial but a cohort study.", "cohort study"),
    ("test", "Groups were compared by two-way ANOVA with Tukey HSD tests, and seroprevalence by the chi-square test "
             "and multiple logistic regression.", "two-way ANOVA, Tukey HSD tests, chi-square test"),
    ("test", "The criterion for statistical significance was set at p < 0.05.", None),
    ("test", "Repeated measures, analysis of variance tested it; two repeated measures MANOVAs tested the rest.",
     "analysis of variance, repeated measures MANOVAs"),
    ("test", "Studies were pooled with the Mantel-Haenszel method in a fixed effects model and a random effects model.",
     "Mantel-Haenszel method, fixed effects model, random effects model"),
    ("design", "A mixed method approach was used in this descriptive study.", "mixed method, descriptive study"),
    ("design", "This was a non-randomized, crossover pilot study.", "non-randomized, crossover, pilot study"),
    ("count", "(N = 38, 41 and 26 birds)", "N = 38, 41 and 26 birds"),
    # spelled out, as qualitative studies write it; in the quote's order; not a single case nor "two of the ..."
    ("count", "Focus groups were held with fifteen participants (men, n = 12).", "fifteen participants, n = 12"),
    ("count", "Twenty-two nurses and two of the physicians were interviewed.", "Twenty-two nurses"),
    ("count", "One patient withdrew.", None),
    # a preposition between a number and what it counts: a year, a part of the sample
    ("count", "a peak incidence between 1985 and 1996 in children younger than 2 years", None),
    ("count", "45 of the 100 patients died", "100 patients"),
    ("count", "1 in 5 patients had a relapse.", None),
    ("count", "We enrolled 300 at-risk children and 1,200 in-hospital patients.",
     "300 at-risk children, 1,200 in-hospital patients"),
    # a spelled-out number over a hundred gives no value rather than its last part
    ("count", "One hundred and twenty participants were enrolled.", None),
    ("count", "One hundred twenty-three students participated.", None),
    ("number", "Accuracy on video 91.2% versus 88.1% on still images.", "91.2%, 88.1%"),
    ("number", "shown in supplementary video 3 that 40% rose", "40%"),
    # a year or a numbered cohort before "in"/"of" is no share; a line break inside a number's words is a space
    ("count", "The cohort study was conducted in 2016 in 4,120 adults.", "4,120 adults"),
    ("count", "We validated the score in cohort 2 of 1,500 patients.", "1,500 patients"),
    ("count", "One hundred\ntwenty participants were enrolled.", None),
    # a supplement's callout is no value ("(Additional file 1: Appendix 2)" read as a main result of 1)
    ("number", "an end result of improved health (Additional file 1: Appendix 2).", None),
    ("number", "see Supplementary Material S3 and Video 2; 40% rose (Additional files 2 and 3)", "40%"),
    ("number", "Mice received 1.5 mg/kg at 22 kV (Table 3, §4).", "1.5 mg/kg, 22 kV"),
    # a callout is no value, whole: its letters, ranges and lists
    ("number", "no significant changes in body weight (Figure 2A-2B), and organ weights (Supplementary Table 3-4).",
     None),
    ("number", "Uptake fell by 40% (Figs. 4a–c and Tables 1 and 2; Fig. S3).", "40%"),
    ("number", "as in Table 2, 45 mice gained 12% weight", "45, 12%"),
    # a value right after one figure's callout is kept; a plural's list is a callout up to a unit or a count
    ("number", "as in Fig. 2, 3.5 mg was given (Table 1, 2.5%)", "3.5 mg, 2.5%"),
    ("number", "Fig. 1, 35, 40 and 45% of mice", "35, 40, 45%"),
    ("number", "Figures 2, 3, and 4 show 12% growth; Figs. 2 and 3, 40 mg", "12%, 40 mg"),
    ("number", "Figure 1—figure supplement 2, Appendix 3, Box 4, Tab. 5 and Supplementary Note 6", None),
    # nor links and DOIs, scale bars, test statistics, a mean's spread or a group's size; an inequality is kept
    ("number", "Data: https://www.mdpi.com/10.3390/ijms11570 (doi:10.3390/x12). Scale bar = 200 μm. Plaques fell "
               "by 38%.", "38%"),
    ("number", "Levels were 11.43 ± 1.24 ng/g and 20.07 (SD 1.24); χ2 = 14.2, F(2, 30) = 4.5, N = 38",
     "11.43 ng/g, 20.07"),
    ("number", "IC50 was <1.5 µM; older animals were more often seropositive (OR = 7.3, n = 5)", "<1.5 µM, 7.3"),
    # the digits of a name are no value: "18S", "H1N1", "COVID-19", "IL-6"
    ("number", "18S rRNA of H1N1 and COVID-19 rose 2x by IL-6, 40% in 12 mice", "2x, 40%, 12"),
    ("metric", "The map shows where we recall MAP and P@1 improved.", "MAP, P@1"),
    # reference numbers set as superscripts, glued to what comes before them, and a coding scheme are no values
    ("number", "This influenced the quality of delivered SCC.50–52 Mortality fell by 22.6%.", "22.6%"),
    ("number", "All data were reviewed by the first author.14,17,18", None),
    ("count", "Guidelines recommend it for smokers with AMI,1–10 and 13,815 smokers were studied.", "13,815 smokers"),
    ("number", "a Coding: 1 = yes; 0 = no; quit rates rose by 12%", "12%"),
    ("number", "Density was lower after moxidectin (0·6) than after ivermectin (4·5).", "0·6, 4·5"),
    # a value glued to the punctuation before it is a value, not a superscript; a Lancet p value is no value
    ("number", "Efficacy was 62% (placebo:7%); hospital stay:4 days (p=0·03).", "62%, 7%, 4 days"),
    # a microscope's magnification is no result (an optical device's is), a caption's "Data collection" no dataset
    ("number", "All images were taken at a magnification of ×10; 40x objective. Uptake rose by 35%.", "35%"),
    ("number", "Original magnification, ×400; ×63 water objective; 100x oil-immersion objective; 35%", "35%"),
    ("number", "a magnification of 2.3 was achieved", "2.3"),
    ("dataset", "Table 2 Data collection and refinement statistics", None),
    ("dataset", "Study Data collection was done; Supplementary Table 3 Data collection statistics", None),
    ("dataset", "We evaluate on The SciDocs benchmark.", "SciDocs"),
    ("text", "Anything at all.", None),
])
def test_values_are_read_off_the_quote_verbatim(kind: str, quote: str, value: str | None) -> None:
    assert read_value(kind, quote) == value  # type: ignore[arg-type]
    if value is not None:
        assert supported(value, quote)


def test_a_value_the_quote_does_not_bear_out_is_refused() -> None:
    quote = "Seroprevalence was 35.8% in sheep and 21.2% in goats."
    assert supported("21.2% in goats", quote)
    assert not supported("25.0% in goats", quote)  # a number the quote does not state
    assert not supported("most cattle were infected", quote)  # words the quote does not say
    assert not supported("1 goat", "We studied 10 goats.")  # a number inside another is not stated
    assert not supported("N/A", quote)  # says nothing the quote states


def test_columns_kinds_presets_and_refusals() -> None:
    assert kind_of("Sample size?") == "count" and kind_of("Which dataset?") == "dataset"
    assert kind_of("What was the main finding?") == "text"
    assert kind_of("Which statistical test?") == "test" and kind_of("What was the test set accuracy?") == "number"
    assert Column.asking("Sample size?").generic and not Column.asking(
        "Aspirin lowers the risk of ischaemic stroke in older adults").generic
    # a question that names its own subject is not a kind of information: "age" is not a result
    assert not Column.asking("What was the mean age?").generic
    assert not Column.asking("How many crows were counted?").generic
    sample = Column.asking("Sample size?")
    assert sample.question.startswith("Sample size? How many participants")  # read with what its kind asks
    assert Column.asking("ctl\x01char?").name == "ctl char?"
    clinical = columns_for(["Follow-up?"], "clinical")
    assert [c.name for c in clinical][:6] == ["Population", "Intervention", "Comparator", "Outcome", "Sample size",
                                              "Design"] and clinical[-1].name == "Follow-up?"
    for questions, preset, says in ((None, None, "a table needs columns"), (["x"], "legal", "no preset 'legal'"),
                                    (["   "], None, "a column is empty"), (["a?", "A?"], None, "two columns ask"),
                                    (["Sample size?"], "clinical", "two columns ask 'Sample size'"),
                                    (["q"] * 13, None, "at most 12")):
        with pytest.raises(ValueError, match=says):
            columns_for(questions, preset)


def _passage(text: str) -> Passage:
    return Passage(chunk_id=1, paper_id="p", title="T", section="Results > Table 2", page=3, page_start=3,
                   page_end=3, text=text, score=0.0, page_spans=[(0, 3)])


def test_a_table_row_is_read_with_its_caption_and_header() -> None:
    passage = _passage("Table 2 Internal consistency of the OHIP-NL\n| | Cronbach's alpha |\n|-|-|\n"
                       "| Total OHIP-NL | 0.97 |\n| Handicap | 0.92 |")
    assert table_row_in_context(passage, "| Total OHIP-NL | 0.97 |") == (
        "Table 2 Internal consistency of the OHIP-NL | | Cronbach's alpha | | Total OHIP-NL | 0.97 |")
    assert table_row_in_context(passage, "| | Cronbach's alpha |") == "| | Cronbach's alpha |"  # the header itself
    assert table_row_in_context(passage, "A sentence.") == "A sentence."


def _table() -> EvidenceTable:
    hostile = Cell(column="Result", value=None, quote="=HYPERLINK(\"http://x\",\"click\") | 0.97 |", page=2,
                   section="Results", reported=True, confidence=0.9, passage="…")
    absent = Cell(column="Sample size", value=None, quote=None, page=None, section=None, reported=False,
                  confidence=0.1, passage=None)
    valued = Cell(column="Sample size", value="313 sheep", quote="We sampled 313 sheep.", page=1, section="Methods",
                  reported=True, confidence=0.8, passage="We sampled 313 sheep.")
    return EvidenceTable(columns=["Result", "Sample size"], trace=[], rows=[
        Row(paper_id="a", title="@SUM(A1) paper", year=2020, byline="Cox & White 2020", cells=[hostile, absent]),
        Row(paper_id="b", title="Sheep | goats", year=None, cells=[hostile, valued])])


def test_markdown_escapes_pipes_and_lists_the_quotes_behind_values() -> None:
    text = markdown(_table())
    lines = text.splitlines()
    assert lines[0] == "| Paper | Result | Sample size |" and all(line.count(" | ") >= 2 for line in lines[2:4])
    assert "\\| 0.97 \\|" in lines[2] and "not reported" in lines[2] and "Sheep \\| goats" in lines[3]
    assert "313 sheep (p. 1)" in lines[3]
    assert lines[2].startswith("| @SUM(A1) paper (Cox & White 2020) |") and lines[3].startswith("| Sheep \\| goats |")
    assert '- Sheep \\| goats, Sample size (p. 1): "We sampled 313 sheep."' in text


def test_csv_and_excel_never_hold_a_formula() -> None:
    assert spreadsheet_text("=1+1") == "'=1+1" and spreadsheet_text("-0.6") == "-0.6"
    assert spreadsheet_text("@SUM(A1)") == "'@SUM(A1)" and spreadsheet_text("plain") == "plain"
    rows = list(csv.reader(io.StringIO(write(_table(), "csv").decode())))
    assert rows[0][:5] == ["paper_id", "title", "year", "byline", "Result"] and rows[0][5] == "Result: quote"
    assert rows[1][1] == "'@SUM(A1) paper" and rows[1][3] == "Cox & White 2020" and rows[1][4].startswith("'=HYPERLINK")
    assert rows[1][8] == "not reported" and rows[2][8] == "313 sheep" and rows[2][9] == "We sampled 313 sheep."
    hostile = _table()
    hostile.columns = ["=cmd|' /C calc'!A0", "Sample\x01size"]
    assert next(csv.reader(io.StringIO(write(hostile, "csv").decode())))[4] == "'=cmd|' /C calc'!A0"
    book = load_workbook(io.BytesIO(write(hostile, "xlsx")))
    sheet = book["Table"]
    assert [c.value for c in sheet[1]] == ["Paper", "Year", "Byline", "=cmd|' /C calc'!A0", "Sample size"]
    # every text cell is text, never a formula, and verbatim (no apostrophe in Excel)
    assert all(c.data_type == "s" for line in sheet.iter_rows() for c in line if isinstance(c.value, str))
    assert sheet["A2"].value == "@SUM(A1) paper" and sheet["D2"].value.startswith("=HYPERLINK")
    assert sheet["E3"].comment.text == '"We sampled 313 sheep." (p. 1, Methods)'
    quotes = list(book["Quotes"].values)
    assert quotes[0][:6] == ("paper_id", "title", "column", "reported", "value", "quote") and len(quotes) == 5


def test_a_result_is_not_read_off_a_method_or_a_bench_protocol() -> None:
    assert may_state("number", "Uptake fell by 40% in treated mice.")
    assert may_state("number", "Mice kept at 22 °C lost 5% of their weight.")
    for setting in ("Reactions were run under a profile of 50°C for 2 min and then 40 cycles of 95°C for 15 sec.",
                    "Lysates were spun at 12,000 × g for 10 min.", "Samples were mixed at 300 rpm.",
                    "All tissues were stored at −80°C."):
        assert not may_state("number", setting)
        assert may_state("count", setting)  # counts and designs are what methods sentences state
    # a design is the paper's own, not one its introduction describes
    assert may_state("design", "We did this randomised controlled trial in 12 hospitals.", "Methods > Design")
    assert not may_state("design", "Randomised trials of web programs are few.", "Introduction")
    assert not may_state("design", "SB and JK designed the systematic review.", "Authors' contributions")
    assert may_state("design", "16 articles were included in the current meta-analysis (Zhao et al. 2015).", "Results")
    # nor is a number read as a result out of a Methods part, at any depth
    assert not may_state("number", "The coefficient of variation was 4.1%.", "Materials and Methods > Assays")
    assert may_state("number", "The coefficient of variation was 4.1%.", "Results > Assays")
    # nor out of a background, however it is marked, nor the publisher's lines ("Main result?" read 4, 27, 2 off
    # "Received: 4 September 2013 Accepted: 27 December 2013 Published: 2 January 2014")
    assert not may_state("number", "Stroke affects 15 million people a year.", "Abstract > Background")
    assert not may_state("number", "BACKGROUND Stroke affects 15 million people a year.")
    history = "Received: 4 September 2013 Accepted: 27 December 2013 Published: 2 January 2014"
    assert not may_state("number", history, "Front matter") and not may_state("count", history)
    for line in ("Article history: Received 4 September 2013", "Manuscript received September 4, 2013; revised",
                 "Submitted: 2013-09-04"):
        assert not may_state("number", line), line
    assert may_state("count", "Received 4 mg of the drug daily, 12 patients improved.")
    # nor a sample size or a design out of a background; nor a result out of a run-in Methods
    assert not may_state("count", "BACKGROUND Dementia affects 50 million people worldwide.", "Abstract")
    assert not may_state("design", "BACKGROUND Previous randomized trials of statins were small.")
    assert not may_state("number", "METHODS Participants got 20 mg daily for 12 weeks.")
    # an introduction may name the paper's own metrics and datasets, not its findings
    assert may_state("metric", "We report macro-F1 and exact match.", "1 Introduction")
    assert not may_state("number", "Accuracy rose to 91%.", "1 Introduction")


def test_a_table_reads_arxiv_only_for_a_query_and_only_where_arxiv_is_on() -> None:
    from service.tables import TableService

    off = TableService(builder=None, turns=None, watches=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="give one"):
        off.read_arxiv(None)
    with pytest.raises(ValueError, match="SCISYNTH_USE_ARXIV=false"):
        off.read_arxiv("citation graphs")


def test_the_abstract_states_the_whole_study_not_its_background() -> None:
    from tools.sections import states_the_whole_study

    assert states_the_whole_study("Abstract") and states_the_whole_study("Abstract > Methods")
    assert not states_the_whole_study("Abstract > Background") and not states_the_whole_study("Methods > Abstract")
    assert not states_the_whole_study("Results > Test-retest reliability")
    assert states_the_whole_study("Summary") and states_the_whole_study("Front matter")  # the Lancet's; no heading


def test_a_design_is_read_off_a_subtitle_only() -> None:
    from agent.evidence_tables import _subtitle

    assert read_value("design", _subtitle("Aspirin use and incident stroke: a population cohort")) == "cohort"
    for title in ("A survey of deep learning for protein structure prediction", "Cohort effects in smoking"):
        assert read_value("design", _subtitle(title)) is None


def test_a_design_is_named_once_by_its_most_specific_words() -> None:
    """A BMC trial's Design cell read "randomised trial, randomised, randomisation"."""
    quote = "This was a randomised trial; randomisation was stratified and patients were randomised by site."
    assert read_value("design", quote) == "randomised trial"
    cohort = "A prospective cohort study; the cohort was followed up."
    assert read_value("design", cohort) == "prospective, cohort study"
    # different designs stay apart (a review found the first rule reporting "non-randomized" for a randomized arm)
    assert read_value("design", "Arms were randomized; a non-randomized arm followed.") == "randomized, non-randomized"
    both = "A cross-over trial and a cross-sectional survey."
    assert read_value("design", both) == "cross-over, cross-sectional, survey"
    assert read_value("design", "A randomised crossover trial; randomisation by block.") == "randomised, crossover"


def test_a_results_part_named_like_back_matter_is_body() -> None:
    from tools.sections import is_back_matter

    for section in ("Results > Competing risk analysis", "Results > Disclosure of HIV status",
                    "Discussion > Availability of naloxone in pharmacies"):
        assert not is_back_matter(section), section
    for section in ("Competing interests", "Disclosures", "Availability of data and materials"):
        assert is_back_matter(section), section
