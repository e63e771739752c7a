from agent.citations import CitationChecker
from agent.evidence import SentenceScorer
from retrieval.embeddings import Embedder
from retrieval.search import Passage


def _passage(text: str, pages: list[tuple[int, int]], paper: str = "p1") -> Passage:
    return Passage(chunk_id=1, paper_id=paper, title=f"Title {paper}", section="2 Methods",
                   page=pages[0][1], page_start=pages[0][1], page_end=pages[-1][1], text=text, score=1.0,
                   page_spans=pages)


PASSAGES = [
    _passage("Mice fed a high-fat diet gained weight. Their insulin levels rose sharply.", [(0, 3)]),
    _passage("The trial enrolled 120 patients.\nAspirin lowered the risk of stroke by a third.",
             [(0, 4), (33, 5)], "p2"),
]


def test_verbatim_claims_keep_their_evidence_numbers(embedder: Embedder) -> None:
    """Numbers stay those of the evidence passages, so a streamed answer reads the same once checked."""
    answer = "Aspirin lowered the risk of stroke by a third. [2] Mice fed a high-fat diet gained weight. [1]"
    checked = CitationChecker(SentenceScorer(embedder)).check(answer, PASSAGES)
    assert checked.text == answer and not checked.changed
    assert [(c["n"], c["paper_id"], c["page"], c["quote"]) for c in checked.citations] == [
        (1, "p1", 3, "Mice fed a high-fat diet gained weight."),
        (2, "p2", 5, "Aspirin lowered the risk of stroke by a third."),
    ]
    assert checked.unsupported_removed == 0


def test_every_sentence_a_citation_number_carries_has_its_quote(embedder: Embedder) -> None:
    """Two sentences of one passage cited with its number: the citation quotes the first, and the second among its
    `also` quotes (a reference showing only the first left the second without a quote to check)."""
    answer = ("Mice fed a high-fat diet gained weight. [1] Aspirin lowered the risk of stroke by a third. [2] "
              "Their insulin levels rose sharply. [1] Mice fed a high-fat diet gained weight. [1]")
    checked = CitationChecker(SentenceScorer(embedder)).check(answer, PASSAGES)
    first = next(c for c in checked.citations if c["n"] == 1)
    assert first["quote"] == "Mice fed a high-fat diet gained weight."
    assert first.get("also") == [{"quote": "Their insulin levels rose sharply.", "page": 3}]  # once, not the first
    assert "also" not in next(c for c in checked.citations if c["n"] == 2)


def test_paraphrase_gets_the_closest_sentence_as_quote(embedder: Embedder) -> None:
    checked = CitationChecker(SentenceScorer(embedder)).check("Insulin levels in the mice increased strongly [1].",
                                                              PASSAGES)
    assert checked.citations[0]["quote"] == "Their insulin levels rose sharply."
    assert checked.text == "Insulin levels in the mice increased strongly. [1]"


def test_unknown_markers_and_unsupported_claims_are_removed(embedder: Embedder) -> None:
    answer = "Mice gained weight on the diet. [1] The moon is made of cheese. [2] Something else. [7]"
    checked = CitationChecker(SentenceScorer(embedder)).check(answer, PASSAGES)
    assert checked.unsupported_removed == 2
    assert "cheese" not in checked.text and "[7]" not in checked.text
    assert [c["n"] for c in checked.citations] == [1] and checked.changed


def test_answer_without_markers_passes_through(embedder: Embedder) -> None:
    checked = CitationChecker(SentenceScorer(embedder)).check("Not enough evidence in the library.", PASSAGES)
    assert (checked.text, checked.citations, checked.unsupported_removed) == (
        "Not enough evidence in the library.", [], 0)


def test_uncited_text_is_never_passed_on(embedder: Embedder) -> None:
    checker = CitationChecker(SentenceScorer(embedder))
    tail = checker.check("Mice fed a high-fat diet gained weight. [1] SPECTER was trained on 40 trillion papers.",
                         PASSAGES)
    assert tail.text == "Mice fed a high-fat diet gained weight. [1]" and tail.unsupported_removed == 1
    riding = checker.check("The moon is made of cheese. Mice fed a high-fat diet gained weight. [1]", PASSAGES)
    assert riding.text == "Mice fed a high-fat diet gained weight. [1]" and riding.unsupported_removed == 1


def test_other_marker_styles_are_read(embedder: Embedder) -> None:
    checker = CitationChecker(SentenceScorer(embedder))
    ranged = checker.check("Aspirin lowered the risk of stroke by a third [1-2].", PASSAGES)
    assert ranged.text == "Aspirin lowered the risk of stroke by a third. [2]" and ranged.changed
    footnote = checker.check("Mice fed a high-fat diet gained weight.[^1]", PASSAGES)
    assert footnote.text == "Mice fed a high-fat diet gained weight. [1]"


def test_a_huge_answer_is_cut_and_read_in_one_pass(embedder: Embedder) -> None:
    from agent.citations import MAX_ANSWER_CHARACTERS, _claims

    claims, tail = _claims("claim [1]. " + "word " * 100_000)  # quadratic scanning would take hours here
    assert len(claims) == 1 and len(tail) < MAX_ANSWER_CHARACTERS
    checked = CitationChecker(SentenceScorer(embedder)).check("Mice fed a high-fat diet gained weight. [1] "
                                                              + "filler " * 5000, PASSAGES)
    assert checked.changed and checked.text == "Mice fed a high-fat diet gained weight. [1]"


def test_a_reference_shows_every_quote_of_its_passage() -> None:
    from api.answers import TEXT, references_block

    citation = {"n": 1, "paper_id": "p1", "title": "Title p1", "section": "2 Methods", "page": 3, "url": None,
                "quote": "Mice fed a high-fat diet gained weight.",
                "also": [{"quote": "Their insulin levels rose sharply.", "page": 3},
                         {"quote": "Glucose fell.", "page": 4}]}
    block = references_block([citation], TEXT)
    assert ("2 Methods, p. 3: “Mice fed a high-fat diet gained weight.” … “Their insulin levels rose sharply.” … "
            "“Glucose fell.”, p. 4") in block


def test_a_citation_says_who_wrote_the_paper_and_when(embedder: Embedder) -> None:
    from dataclasses import replace

    from agent.citations import byline
    from api.answers import TEXT, references_block

    assert byline(("Natascia Vedovato", "Maria V. Salguero", "Frances M. Ashcroft"), 2024) == "Vedovato et al. 2024"
    assert byline(["Sam Cox", "Andrew D. White"], 2022) == "Cox & White 2022"
    assert byline(["William B. Driggers III"], None) == "Driggers"
    assert byline(["Adams Myfanwy C"], 2024) == "Adams 2024"  # surname first, as some metadata stores it
    assert byline([], 2010) == "2010" and byline([], None) == ""
    passages = [replace(PASSAGES[0], authors=("Nuala E. Tully", "Karen M. Morgan"), year=2010), PASSAGES[1]]
    checked = CitationChecker(SentenceScorer(embedder)).check(
        "Mice fed a high-fat diet gained weight. [1] Aspirin lowered the risk of stroke by a third. [2]", passages)
    assert checked.citations[0]["byline"] == "Tully & Morgan 2010" and "byline" not in checked.citations[1]
    assert "[1] Title p1 (Tully & Morgan 2010) — 2 Methods" in references_block(checked.citations, TEXT)


def test_a_byline_keeps_particles_and_reads_names_written_surname_first() -> None:
    from agent.citations import byline

    assert byline(["Hein de Vries", "Jan van Sluijs"], 2010) == "de Vries & van Sluijs 2010"
    assert byline(["Smith, John"], 2021) == "Smith 2021"  # as RIS and BibTeX write it
    assert byline(["ATLAS Collaboration", "CMS Collaboration"], 2015) == "ATLAS Collaboration & CMS Collaboration 2015"
    assert byline(["Tom Palmer1", "Ann Lee*"], 2020) == "Palmer & Lee 2020"  # affiliation marks left in metadata
    assert byline(None, 2020) == "2020"
    assert byline(["Ross G. DOUGLAS", "Rajni K. SHARMA"], 2014) == "Douglas & Sharma 2014"
