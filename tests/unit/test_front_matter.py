"""The front matter read from a first page and a PDF's metadata, on what real publishers put there."""

from __future__ import annotations

from tools.front_matter import authors_in, choose_title, doi_in, is_banner, read_front_matter, venue_in, year_in


def test_the_printed_title_wins_over_a_template_or_a_file_name_in_the_metadata() -> None:
    printed = "SemEAGAT: A Novel Approach by Incorporating Semantic Dependency Graph in Event Detection"
    assert choose_title(printed, "Proceedings Template - WORD") == printed
    assert choose_title(printed, "6489122611071476 1..10") == printed
    assert choose_title(None, "Microsoft Word - draft3.docx") is None


def test_a_metadata_title_completes_a_printed_one_cut_short_and_html_entities_are_read() -> None:
    assert choose_title("A loss-of-function mutation in", "A loss-of-function mutation in KCNJ11 causing diabetes") \
        == "A loss-of-function mutation in KCNJ11 causing diabetes"
    assert choose_title(None, "The crystal structure of bacteriophage &lambda; RexA") == \
        "The crystal structure of bacteriophage λ RexA"


def test_banners_are_not_titles() -> None:
    assert all(is_banner(text) for text in ("RESEARCH ARTICLE", "Open Access", "OPEN", "Original Article"))
    assert not is_banner("Open questions in protein folding")


def test_journal_doi_and_year_from_a_subject_line_and_a_first_page() -> None:
    assert venue_in("BMC Biology, https://doi.org/10.1186/s12915-024-01840-1") == "BMC Biology"
    assert venue_in("Current Biology, 34 (2024) 1469-1484. doi:10.1016/j.cub.2024.02.062") == "Current Biology"
    assert venue_in("Triple-negative breast cancer (TNBC) is highly aggressive with a poor prognosis and few "
                    "treatment options; this abstract runs on past any journal's name " * 2) is None
    assert doi_in("Nature Communications, doi:10.1038/s41467-022-30570-7.") == "10.1038/s41467-022-30570-7"
    assert year_in("Received 10 February 2024 Accepted 13 March 2024 Published 5 April 2024") == 2024
    assert year_in("Dhakal et al. BMC Biology (2024) 22:37") == 2024
    assert year_in("Copyright © 2010 Nuala E. Tully et al.") == 2010


def test_authors_from_the_metadata_in_the_ways_publishers_write_them() -> None:
    assert authors_in("Nuala E. Tully {et al.}") == ["Nuala E. Tully"]
    assert authors_in("Adams Myfanwy C., Schiltz CarlJ., Sun Ji") == ["Adams Myfanwy C", "Schiltz CarlJ",
                                                                     "Sun Ji"]
    assert authors_in("Alaa Bawaneh; Adam S. Wilson and Nicole Levi") == ["Alaa Bawaneh", "Adam S. Wilson",
                                                                         "Nicole Levi"]


def test_the_creation_date_gives_the_year_only_when_the_page_does_not() -> None:
    front = read_front_matter("Some first page with no date on it", "A Study of Things in Places",
                              {"creationDate": "D:20150327002013Z", "subject": "ATLAS, CMS"})
    assert (front.title, front.year, front.doi) == ("A Study of Things in Places", 2015, None)
