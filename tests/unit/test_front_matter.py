"""The front matter read from a first page and a PDF's metadata, on what real publishers put there."""

from __future__ import annotations

from tools.documents import Block, Heading, Section
from tools.front_matter import (
    authors_in,
    choose_title,
    doi_in,
    front_lines_as_front_matter,
    is_banner,
    read_front_matter,
    venue_in,
    year_in,
)


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
    # BMC's article types head the first page ("STUDY PROTOCOL: Effectiveness of ..." was a trial's title), but
    # "Study protocol" and "Methodology" also head sections, so they are no titles yet no banners either
    from tools.front_matter import plausible_title

    assert not any(plausible_title(text) for text in ("STUDY PROTOCOL", "Methodology article", "TECHNICAL ADVANCE",
                                                      "STUDY PROTOCOL Open Access", "RESEARCH ARTICLE Open Access",
                                                      "STUDY  PROTOCOL"))
    assert plausible_title("Debate: the case for screening") and plausible_title("Research article writing in Kenya")
    assert not any(is_banner(text) for text in ("Study protocol", "Methodology"))
    assert plausible_title("Study protocol for a cluster randomized trial of falls prevention")


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


def test_author_lists_licence_lines_links_and_section_names_are_not_titles() -> None:
    from tools.front_matter import plausible_title

    assert not plausible_title("Anne Focke 1*, Christian Stockinger 1, Christina Diepold 1, Marco Taubert 2 and "
                               "Thorsten Stein 1")
    assert not plausible_title("This article is licensed under a Creative Commons Attribution 4.0 License")
    assert not plausible_title("doi: 10.1234/x},note={pwned https://doi.org/10.1234/abc")
    assert not plausible_title("References")
    assert not plausible_title("Keywords: motor learning, manipulandum, reaching movements, interference")
    assert all(plausible_title(title) for title in (
        "A Phase 2 Trial of Drug X in 2020 Patients", "COVID-19 and SARS-CoV-2: a review",
        "Open access publishing and the citation advantage", "Residues Neighboring an SH3-Binding Motif",
        "Expression of RexA homologs: Sbash gp30, CarolAnn gp44, and Toast gp42"))
    # the printed author line gives way to the metadata's title
    assert choose_title("Anne Focke 1*, Christian Stockinger 1 and Thorsten Stein 1",
                        "The influence of catch trials on the consolidation of motor memory") == \
        "The influence of catch trials on the consolidation of motor memory"


def test_metadata_authors_that_are_mangled_titled_or_not_people() -> None:
    assert authors_in("Baranauskien#_#x0117; Anna; Despr#_#x00E8;s Bruno") == ["Baranauskienė Anna", "Desprès Bruno"]
    assert authors_in("Dr Jamie Brown PhD") == ["Jamie Brown"]
    assert authors_in("End User Computing Services") == []
    assert authors_in("ATLAS and CMS Collaborations") == []


def test_codes_and_keyword_lists_are_not_journals() -> None:
    assert [venue_in(subject) for subject in ("acl", "N18-3", "ATLAS, CMS", "Higgs, mass, LHC")] == [None] * 4
    assert venue_in("PLOS ONE, 13(5): e0196") == "PLOS ONE" and venue_in("eLife 2023;12:RP91357") == "eLife"


def test_a_byline_under_the_title_in_the_ways_publishers_print_it() -> None:
    from tools.front_matter import byline_authors

    # commas and "and"; affiliation marks the reader left; degrees (JMIR); a "·" list (Springer)
    assert byline_authors(["Nuala E. Tully, Karen M. Morgan, Helen M. Burke, and Hannah M. McGee",
                           "Division of Population Health Sciences, Royal College of Surgeons in Ireland"]) == \
        ["Nuala E. Tully", "Karen M. Morgan", "Helen M. Burke", "Hannah M. McGee"]
    assert byline_authors(["Lucy Yardley, PhD; Sascha Miller, MSc; Paul Little, MD, PhD, FRCGP", "Abstract"]) == \
        ["Lucy Yardley", "Sascha Miller", "Paul Little"]
    # each name's degrees and marks as pieces of their own (American Journal of Preventive Medicine); "Ma" is a name
    assert byline_authors(["Emily M. Bucholz, MD, PhD, MPH,1,2,3 Adam L. Beckman, BS,4 Catarina I. Kiefe, MD, PhD,5",
                           "Harlan M. Krumholz, MD, SM6,7,8,9", "This activity is available for CME credit."]) == \
        ["Emily M. Bucholz", "Adam L. Beckman", "Catarina I. Kiefe", "Harlan M. Krumholz"]
    assert byline_authors(["Lin Ma, Wei Zhang and Jun Yang"]) == ["Lin Ma", "Wei Zhang", "Jun Yang"]
    assert byline_authors(["Jane A. Smith, MD, FAAP,1 John B. Roe, MD,2 Ann C. Lee, DNP, RN3"]) == \
        ["Jane A. Smith", "John B. Roe", "Ann C. Lee"]
    assert byline_authors(["Natascia Vedovato · Maria V. Salguero · Louis H. Philipson ·", "Frances M. Ashcroft",
                           "Received: 25 September 2023 / Accepted: 28 November 2023"]) == \
        ["Natascia Vedovato", "Maria V. Salguero", "Louis H. Philipson", "Frances M. Ashcroft"]
    # one name a line (Dove), then the affiliations
    assert byline_authors(["Rapeepong Suphanchaimat", "Nisachol Cetthakrikul", "Alexander Dalliston",
                           "International Health Policy Program,"]) == \
        ["Rapeepong Suphanchaimat", "Nisachol Cetthakrikul", "Alexander Dalliston"]
    # a name broken over two lines, lines of marks only, particles and suffixes, "&" before the last
    assert byline_authors(["Haiyang Jiang, Peizhao Liu, Juanhan", "Liu, Esther M F van Sluijs,", "1,5,",
                           "William B. Driggers III & Dong Wang", "✉", "Abstract"]) == \
        ["Haiyang Jiang", "Peizhao Liu", "Juanhan Liu", "Esther M F van Sluijs", "William B. Driggers III",
         "Dong Wang"]
    # what follows a title but names no one
    assert byline_authors(["Highlights", "Rebecca A. Clemons, Mark N. Yacoub"]) == []
    assert byline_authors(["Chemical Science", "Open Access"]) == []
    assert byline_authors(["Kim et al. (2014) showed that winds vary."]) == []


def test_the_authors_printed_under_the_title_complete_metadata_that_names_only_the_first() -> None:
    lines = [("Article", 14.9), ("LncRNA DANA1 promotes drought tolerance and", 22.9),
             ("histone deacetylation of drought responsive genes", 22.9), ("in Arabidopsis", 22.9),
             ("Jingjing Cai, Yongdi Zhang, Reqing He, Liyun Jiang", 11.5), (", Zhipeng Qu & Dong Wang", 11.5),
             ("Abstract", 13.0), ("Although many long noncoding RNAs have been discovered in", 8.5)]
    front = read_front_matter("", "LncRNA DANA1 promotes drought tolerance and histone deacetylation of drought "
                                  "responsive genes in Arabidopsis", {"author": "Jingjing Cai"}, lines)
    assert front.authors == ["Jingjing Cai", "Yongdi Zhang", "Reqing He", "Liyun Jiang", "Zhipeng Qu", "Dong Wang"]
    # metadata that names everyone is kept when the page shows no byline under the title
    front = read_front_matter("", "A Study", {"author": "Ann Lee; Bo Chen"}, [("A Study", 20.0), ("Abstract", 10.0)])
    assert front.authors == ["Ann Lee", "Bo Chen"]


def test_authors_set_side_by_side_each_over_their_affiliation_are_all_read() -> None:
    title = "Not Quite There Yet: Remaining Challenges in Software Product Line Engineering"
    body = [("Research on system and software product line engineering has been inspired by industry.", 9.0)] * 6
    blocks = [("Martin Becker", 12.0), ("Embedded Systems", 10.0), ("Fraunhofer IESE", 10.0),
              ("martin.becker@iese.fraunhofer.de", 10.0), ("Rick Rabiser", 12.0), ("Johannes Kepler University", 10.0),
              ("Linz, Austria", 10.0), ("Goetz Botterweck", 12.0), ("Trinity College Dublin", 10.0)]
    lines = [("Not Quite There Yet: Remaining Challenges in", 17.2), ("Software Product Line Engineering", 17.2),
             *blocks, ("ABSTRACT", 10.9), *body, ("Anna Karenina", 12.0)]
    assert read_front_matter("", title, {}, lines).authors == ["Martin Becker", "Rick Rabiser", "Goetz Botterweck"]
    # one author over an affiliation, then a line in the byline's size that is not a name: one author
    lone = [lines[0], lines[1], ("Martin Becker", 12.0), ("Fraunhofer IESE", 10.0), ("Introduction", 12.0),
            ("Kim Lee", 12.0), *body]
    assert read_front_matter("", title, {}, lone).authors == ["Martin Becker"]
    # a byline in the size of the page's text is not read as blocks: names further down are the text's
    plain = [lines[0], lines[1], ("Martin Becker", 9.0), ("Fraunhofer IESE", 8.0), *body, ("Kim Lee", 9.0)]
    assert read_front_matter("", title, {}, plain).authors == ["Martin Becker"]
    # older ACM: each email in the name's size, passed over
    emails = [lines[0], lines[1], ("Pierre-François Dutot", 12.0), ("ID-IMAG", 10.0), ("pfdutot@imag.fr", 12.0),
              ("Lionel Eyraud", 12.0), ("ID-IMAG", 10.0), ("Lionel.Eyraud@imag.fr", 12.0), ("ABSTRACT", 12.0), *body]
    assert read_front_matter("", title, {}, emails).authors == ["Pierre-François Dutot", "Lionel Eyraud"]
    # once the text starts, a heading or a running header in the byline's size is no author
    headed = [lines[0], lines[1], ("Jane Doe", 12.0), ("University of Somewhere", 8.0), *body,
              ("Machine Learning", 12.0), ("Jane Doe", 12.0), ("Related Work", 12.0)]
    assert read_front_matter("", title, {}, headed).authors == ["Jane Doe"]


def test_a_byline_printed_above_the_title_is_read_with_its_title() -> None:
    body = [("Abstract: Objective. The aim of this meta-analysis was to evaluate the correlation between", 9.5)] * 8
    lines = [("Open Med. 2016; 11: 264-269", 8.0), ("Research Article", 12.0), ("Open Access", 12.0),
             ("Xiao Haibing*, Cao Xu, Cai Jifu, Li Ling , Hu Yanjun", 12.0),
             ("Correlation between CTLA-4 gene rs221775A>G", 22.0),
             ("single nucleotide polymorphism and multiple", 22.0), ("sclerosis susceptibility. A meta-analysis", 22.0),
             ("DOI 10.1515/med-2016-0052", 8.0), *body]
    front = read_front_matter("", None, {"title": "OPENMED-D-16-00049.indd"}, lines)
    assert front.title == ("Correlation between CTLA-4 gene rs221775A>G single nucleotide polymorphism and multiple "
                           "sclerosis susceptibility. A meta-analysis")
    assert front.authors == ["Xiao Haibing", "Cao Xu", "Cai Jifu", "Li Ling", "Hu Yanjun"]  # not the banners
    # a journal's name over a title is not a byline
    named = [("Journal of Applied Ecology", 12.0), *lines[4:]]
    assert read_front_matter("", None, {}, named).authors == []
    # nor two topics or places, nor names under a label
    for above in ([("Deep Learning, Computer Vision", 12.0)], [("South Africa, New Zealand", 12.0)],
                  [("Edited by", 9.0), ("Ann Lee, Bo Chen, Kim Park", 12.0)]):
        assert read_front_matter("", None, {}, [lines[1], *above, *lines[4:]]).authors == []
    # a title the reader found keeps its place: a byline above a heading further down does not replace it
    found = [("A Study of Sea Ice", 22.0), ("ANN LEE AND BO CHEN", 12.0), *body[:3],
             ("Kim Park, Lee Min and Jo Han", 9.5), ("Introduction and Background Work", 12.0), *body]
    front = read_front_matter("", "A Study of Sea Ice", {}, found)
    assert front.title == "A Study of Sea Ice" and front.authors == []


def test_a_manuscript_set_in_one_size_gives_its_title_and_byline_from_the_top_of_the_page() -> None:
    body = [("Piwi-interacting RNAs silence transposons in the germline of animals and are amplified by", 11.3)] * 9
    stamp = [("CC-BY-NC-ND 4.0 International license available under a was not certified by peer review", 8.0)]
    lines = [("1", 11.3), ("The dual role of Spn-E in supporting heterotypic ping-pong piRNA amplification", 11.3),
             ("in silkworms", 11.3), ("Running title: Spn-E facilitates heterotypic ping-pong", 11.3),
             ("Natsuko Izumi†, Keisuke Shoji†, Lumi Negishi, and Yukihide Tomari", 11.3),
             ("Laboratory of RNA Function, Institute for Quantitative Biosciences, The University of Tokyo", 11.3),
             *body, *stamp]
    front = read_front_matter("", " ".join(stamp[0][0].split()), {"author": "Administrator"}, lines)
    assert front.title == "The dual role of Spn-E in supporting heterotypic ping-pong piRNA amplification in silkworms"
    assert front.authors == ["Natsuko Izumi", "Keisuke Shoji", "Lumi Negishi", "Yukihide Tomari"]
    # a word cut at the line's end is joined; a hyphen left hanging before "and" is not
    hanging = [("Zn- and Cu-doped oxides as catalysts for the oxidation of methane: a", 11.3),
               ("cluster-", 11.3), ("randomised comparison", 11.3), *lines[3:]]
    assert read_front_matter("", None, {}, hanging).title == (
        "Zn- and Cu-doped oxides as catalysts for the oxidation of methane: a cluster-randomised comparison")
    # a label over names is no title; nor are lines set in another size than the title's
    labelled = [("Edited by", 9.0), ("Ann Lee, Bo Chen, Kim Park", 11.3), *body]
    assert read_front_matter("", None, {}, labelled).authors == []


def test_a_misread_title_gives_way_to_the_lines_printed_above_the_byline() -> None:
    lines = [("International Journal of Remote Sensing", 10.0), ("Research Article", 18.0),
             ("SAR-derived wind fields at the coastal region in the", 18.0), ("East/Japan Sea", 18.0),
             ("Tae-Sung Kim, Kyung-Ae Park, Xiaofeng Li & Sungwook Hong", 11.0), ("Abstract", 10.0),
             *[("Synthetic aperture radar images of the sea surface give winds at a fine scale.", 10.0)] * 4,
             # a line of the body over a smaller one is not a title over its byline
             ("Conclusions: winds and upwelling, Kim and Park, agree.", 10.0), ("Mark Twain, Jane Austen", 8.0)]
    front = read_front_matter("", "Received 19 April 2016 Revised 22 August 2016", {}, lines)
    assert front.title == "SAR-derived wind fields at the coastal region in the East/Japan Sea"
    assert front.authors == ["Tae-Sung Kim", "Kyung-Ae Park", "Xiaofeng Li", "Sungwook Hong"]


def test_name_lists_dates_banners_and_cover_sheets_are_not_titles() -> None:
    from tools.front_matter import plausible_title

    assert not plausible_title("Tae-Sung Kim, Kyung-Ae Park, Xiaofeng Li & Sungwook Hong")
    assert not plausible_title("Received 19 April 2016 Revised 22 August 2016 Accepted 23 August 2016")
    assert not plausible_title("Wojciech Smigaj To cite this version:")
    assert all(is_banner(text) for text in ("RESEARCH NOTE", "Short Communication", "Mini-Review", "Case Report"))
    assert plausible_title("Love, Death and the Immune Response")


def test_a_collaboration_is_an_author() -> None:
    from tools.front_matter import byline_authors

    assert byline_authors(["The ATLAS and CMS Collaborations∗", "Abstract"]) == ["ATLAS Collaboration",
                                                                                "CMS Collaboration"]


def test_bylines_in_capitals_with_bars_and_names_cut_at_a_line_end() -> None:
    from tools.front_matter import byline_authors

    # surnames in capitals (Portland Press), bars between names (Wiley), a name cut after a particle
    assert byline_authors(["Ross G. DOUGLAS, Rajni K. SHARMA and Edward D. STURROCK", "CASE STUDY"]) == \
        ["Ross G. DOUGLAS", "Rajni K. SHARMA", "Edward D. STURROCK"]
    assert byline_authors(["Jonas Fritzsch | Justus Bogner | Ana Cristina Franco da", "Silva | Stefan Wagner"]) == \
        ["Jonas Fritzsch", "Justus Bogner", "Ana Cristina Franco da Silva", "Stefan Wagner"]
    # a comma list that runs on over a line break inside a name, then ends before the affiliations
    assert byline_authors(["Taís Freire Galvão, Eliane Said", "Dutra, Mauricio Gomes Pereira",
                           "Programa de Pós-Graduação em Nutrição Humana. Universidade de Brasília."]) == \
        ["Taís Freire Galvão", "Eliane Said Dutra", "Mauricio Gomes Pereira"]
    # the last name of a list is not joined to the affiliation or the heading under it
    assert byline_authors(["Andrew E. Webb, Thomas A. Walsh and Mary J. O’Connell",
                           "Bioinformatics and Molecular Evolution Group, School of Biotechnology, Dublin"]) == \
        ["Andrew E. Webb", "Thomas A. Walsh", "Mary J. O’Connell"]
    assert byline_authors(["Jamie Brown, Susan Michie, Robert West", "Summary"])[-1] == "Robert West"
    # spacing accents, set after their letter or, as TeX sets them, before it; a cedilla always after
    assert byline_authors(["Se´lambarom Ozgu¨ n, Selc¸ uk Aksoy"]) == ["Sélambarom Ozgün", "Selçuk Aksoy"]
    assert byline_authors(["Pierre-Franc¸ois Dutot, Gr´egory Mouni´e"]) == ["Pierre-François Dutot", "Grégory Mounié"]
    # "Md." is a name, not a degree; a particle joined to a surname by a hyphen
    assert byline_authors(["Md. Hassan uz-Zaman, Simon D’Alton,", "Ahmed al-Hassan, and Howard Ochman*",
                           "Department of Molecular Biosciences,"]) == [
        "Md. Hassan uz-Zaman", "Simon D’Alton", "Ahmed al-Hassan", "Howard Ochman"]
    # affiliation marks set as plain digits, glued to the name
    assert byline_authors(["Elke Lang1 and Hans Reichenbach3", "Juanhan Liu2, Mo Sun1,3*"]) == [
        "Elke Lang", "Hans Reichenbach", "Juanhan Liu", "Mo Sun"]


def test_production_codes_file_names_and_numbered_sections_are_not_titles() -> None:
    from tools.front_matter import plausible_title

    assert not plausible_title("OP-CBIO130553 139..140")
    assert not plausible_title("OPENMED-D-16-00049.indd")
    assert not plausible_title("1 Introduction")
    assert plausible_title("Pattern search in BioPAX models")


def test_what_a_hostile_review_found() -> None:
    """Title-case titles with "and" are titles; a heading is no author; degrees with dots are dropped; a
    collaboration is a whole capitalised line; "published" inside an abstract gives no year; section names are
    not banners (a layout reader's "Methods" heading must stay one)."""
    from tools.front_matter import byline_authors, plausible_title

    assert all(plausible_title(t) for t in ("Gut Microbiota and Colorectal Cancer", "Zika Virus, Dengue Virus",
                                            "Quantum Field Theory and Critical Phenomena"))
    assert byline_authors(["Technical Report", "Jane Doe, John Roe"]) == []
    assert byline_authors(["Masaya Misaki Ph.D, Salvador M. Guinjoan M.D., Ph.D."]) == ["Masaya Misaki",
                                                                                        "Salvador M. Guinjoan"]
    assert byline_authors(["An international multicentre collaboration", "Jane Doe, John Roe"]) == []
    assert byline_authors(["Jane Doe, John Roe and the ABC Collaboration"]) == ["Jane Doe", "John Roe"]
    assert year_in("Studies published between 2000 and 2015 were pooled. © 2016 The Authors") == 2016
    assert year_in("Received: 25 September 2023 / Accepted: 28 November 2023 / Published online: 17 February 2024") \
        == 2024
    assert not any(is_banner(t) for t in ("Methods", "Protocol", "Correspondence"))


def test_a_byline_read_as_a_heading_is_front_matter() -> None:
    """A byline in the headings' type (IJSEM's, with its marks) or one author's name on a line of its own made a
    section named after the authors; a heading that only looks like a name and is no author's stays one."""
    authors = ["Maria E. Hedberg", "Olof Sandström", "Olle Hernell", "Andrew Head"]
    sections = [Section("Front matter", [Block("Prevotella jejuni sp. nov.", 1)]),
                Section("Olof Sandstro¨m,5 Olle Hernell,5 Marie-Louise Hammarstro¨m1", [Block("Abstract text.", 1)]),
                Section("Andrew Head", [Block("More of the abstract.", 1)]),
                Section("Taxonomic Note", [Block("A note.", 1)]),
                Section("Results", [Block("Cells grew.", 3)]),
                Section("Andrew Head", [Block("A later page's heading.", 4)])]
    headings = [Heading(s.title, 1, s.blocks[0].page) for s in sections[1:]]
    merged, outline = front_lines_as_front_matter(sections, headings, "Prevotella jejuni sp. nov.", authors)
    assert [s.title for s in merged] == ["Front matter", "Taxonomic Note", "Results", "Andrew Head"]
    assert [b.text for b in merged[0].blocks] == ["Prevotella jejuni sp. nov.", "Abstract text.",
                                                  "More of the abstract."]
    assert [h.title for h in outline] == ["Taxonomic Note", "Results", "Andrew Head"]
    # past the paper's first section, a heading that reads like a list of names is a heading
    lakes = [Section("Front matter", [Block("Abstract text.", 1)]), Section("Introduction", [Block("Why.", 1)]),
             Section("Lake Victoria, Lake Malawi and Lake Tanganyika", [Block("Three lakes.", 2)]),
             Section("Results", [Block("Cells grew.", 3)]), Section("Results", [Block("More cells grew.", 3)])]
    assert front_lines_as_front_matter(lakes, [], "Three lakes", authors)[0] == lakes


def test_the_parts_under_a_byline_heading_are_front_matter_too() -> None:
    """IJSEM's byline, read as a level-1 heading, held the whole paper and its Acknowledgements on page 6: both are
    the front matter's, and the outline keeps no byline (two lines of it were two headings)."""
    authors = ["Maria E. Hedberg", "Anne Israelsson", "Olof Sandström", "Olle Hernell", "Marie-Louise Hammarström"]
    byline = "Olof Sandstro¨m,5 Olle Hernell,5 Marie-Louise Hammarstro¨m1"
    sections = [Section("Front matter", [Block("Prevotella jejuni sp. nov.", 1)]),
                Section(byline, [Block("The whole paper.", 1), Block("Its end.", 5)]),
                Section(f"{byline} > Acknowledgements", [Block("We thank the clinic.", 6)])]
    headings = [Heading("Maria E. Hedberg,1 Anne Israelsson,1", 1, 1), Heading(byline, 1, 1),
                Heading("Acknowledgements", 2, 6)]
    merged, outline = front_lines_as_front_matter(sections, headings, "Prevotella jejuni sp. nov.", authors)
    assert [s.title for s in merged] == ["Front matter", "Front matter > Acknowledgements"]
    assert [h.title for h in outline] == ["Acknowledgements"]


def test_the_titles_second_line_read_as_a_heading_is_front_matter() -> None:
    """An EACL paper's two-line title, in a type its later pages use too: its second line headed the abstract."""
    title = "LONGEVAL: Guidelines for Human Evaluation of Faithfulness in Long-form Summarization"
    sections = [Section("Faithfulness in Long-form Summarization", [Block("Kalpesh Krishna", 1)]),
                Section("Faithfulness in Long-form Summarization > Abstract", [Block("While human evaluation", 1)]),
                Section("1 Introduction", [Block("Faithfulness matters.", 1)])]
    merged, _ = front_lines_as_front_matter(sections, [], title, ["Kalpesh Krishna"])
    assert [s.title for s in merged] == ["Front matter", "Front matter > Abstract", "1 Introduction"]
    # a heading that only shares a word or two with the title stays
    short = [Section("Summarization", [Block("Text.", 1)]), Section("Methods", [Block("More.", 2)])]
    assert front_lines_as_front_matter(short, [], title, [])[0] == short
    marks = [Section("* * *", [Block("Text.", 1)]), Section("Methods", [Block("More.", 2)])]  # no letters: no line
    assert front_lines_as_front_matter(marks, [], title, [])[0] == marks
