from retrieval.chunking import chunk_document, rejoined, sentence_spans, word_count
from retrieval.sentences import sentences
from store.catalog import page_at
from tools.documents import Block, Document, Section


def _document() -> Document:
    return Document(paper_id="p1", title="T", source="test", sections=[
        Section("1 Introduction", [
            Block("Alpha one is first. Alpha two is second.", page=1),
            Block("Beta one starts page two. Beta two ends it.", page=2),
        ]),
        Section("2 Methods", [Block("Gamma is a method sentence.", page=2)]),
    ])


def test_chunks_never_cross_sections_and_know_their_pages() -> None:
    chunks = chunk_document(_document(), max_tokens=256)
    assert [(c.section, c.page_start, c.page_end) for c in chunks] == [
        ("1 Introduction", 1, 2), ("2 Methods", 2, 2)]
    first = chunks[0]
    assert first.text == "Alpha one is first. Alpha two is second.\nBeta one starts page two. Beta two ends it."
    assert [first.text[a:b] for a, b in sentence_spans(first.text, first.page_spans)] == [
        "Alpha one is first.", "Alpha two is second.", "Beta one starts page two.", "Beta two ends it."]
    assert page_at(first.page_spans, first.text.index("Alpha two")) == 1
    assert page_at(first.page_spans, first.text.index("Beta one")) == 2


def test_budget_is_respected_with_one_sentence_overlap() -> None:
    chunks = chunk_document(_document(), count_tokens=word_count, max_tokens=14)
    assert all(word_count(s) <= 14 for c in chunks for s in sentences(c.text))
    intro = [c.text for c in chunks if c.section == "1 Introduction"]
    assert len(intro) >= 2
    # The last sentence of a chunk opens the next one (overlap), so no context is lost at the seam.
    assert sentences(intro[1])[0] == sentences(intro[0])[-1]


def test_overlong_sentence_is_cut_into_windows() -> None:
    long_sentence = " ".join(f"word{i}" for i in range(300)) + "."
    document = Document("p", "T", "test", [Section("S", [Block(long_sentence, page=3)])])
    chunks = chunk_document(document, max_tokens=64)
    assert len(chunks) > 1
    assert " ".join(c.text for c in chunks).count("word299") >= 1
    assert all(c.page_start == 3 for c in chunks)


def test_sentence_splitter_keeps_abbreviations() -> None:
    text = "We follow Smith et al. (2019) in Fig. 2. It works, e.g. on mice. (See Table 1.) Done."
    assert sentences(text) == ["We follow Smith et al. (2019) in Fig. 2.", "It works, e.g. on mice.",
                               "(See Table 1.)", "Done."]


def test_a_callout_set_after_a_full_stop_stays_with_its_sentence() -> None:
    text = ("No surface expression was detected without the HA tag. (Fig.\u00a04a) There was an ~40% reduction "
            "(Fig. 4a), suggesting a defect. (Table 2) Next.")
    assert sentences(text) == ["No surface expression was detected without the HA tag. (Fig.\u00a04a)",
                               "There was an ~40% reduction (Fig. 4a), suggesting a defect. (Table 2)", "Next."]
    assert sentences("(Figure 1) A paragraph may open with one. Then more.")[0] == \
        "(Figure 1) A paragraph may open with one."


def test_a_front_matters_unheaded_abstract_is_a_passage_of_its_own() -> None:
    """A first page without an "Abstract" heading (Royal Society Open Science) put the correspondence address,
    the abstract and the licence line in one passage: the abstract was diluted, and a question it answers found it
    28th. Labels, names and addresses never share a passage with the abstract's prose."""
    abstract = ("Bears produce the most altricial neonates of any placental mammal. We hypothesized that the "
                "transition from colostrum to mature milk reflects an adaptation for altricial development. Analysis "
                "of serial milk samples from six giant pandas showed a prolonged transition over about 30 days. "
                "Early lactation in giant pandas appears to be adapted for unusually altricial neonates.")
    licence = "2015 The Authors. Published under the terms of the Creative Commons Attribution License."
    cut = abstract.index(" ", 200)  # an abstract set over two columns: two blocks, one passage
    head, tail = abstract[:cut], abstract[cut + 1:]
    document = Document(paper_id="p1", title="T", source="test", sections=[
        Section("Front matter", [Block("Received: 7 August 2015 Accepted: 21 September 2015", 1),
                                 Block("Author for correspondence: M. W. Kennedy e-mail: mk@example.org", 1),
                                 Block("1Institute of Biodiversity, University of Glasgow, Glasgow G12 8QQ, UK", 1),
                                 Block(head, 1), Block(tail, 1), Block(licence, 1)]),
        Section("1 Introduction", [Block("Milk composition varies. " * 3, 2), Block("It also changes. " * 3, 2)])])
    texts = [chunk.text for chunk in chunk_document(document)]
    assert texts[1].replace("\n", " ") == abstract
    assert "Received" in texts[0] and "Kennedy" in texts[0] and "Glasgow" in texts[0] and texts[2] == licence
    assert texts[3].startswith("Milk composition") and "It also changes" in texts[3]  # other sections as before
    whole = Document(paper_id="p2", title="T", source="test", sections=[Section("Front matter", [
        Block(abstract, 1), Block("A short paragraph follows.", 1), Block(abstract, 2)])])
    assert len(chunk_document(whole)) == len(chunk_document(Document(  # a paper read without headings: as before
        paper_id="p3", title="T", source="test", sections=[Section("Body", whole.sections[0].blocks)])))


def test_a_sentence_a_column_or_page_break_split_is_quoted_whole() -> None:
    """A paragraph broken by a column or page break (or a PDF that sets each line as a block of its own: ACM's
    arXiv builds) gave quotes of half a sentence ("barriers to paper reading without any loss in paper
    comprehension."); the sentence is whole again, on the page where it began, and the rest of the next block keeps
    its own page."""
    document = Document(paper_id="p1", title="T", source="test", sections=[Section("8 Discussion", [
        Block("The similar scores show that the tool achieves its primary focus of lowering", 27),
        Block("barriers to paper reading without any loss in comprehension. In summary, the tool helps.", 28),
        Block("Participants read faster", 28), Block("with the tool", 28), Block("than without it.", 28),
        Block("Table rows follow", 28), Block("Unrelated heading-like text", 28),
        Block("Author for correspondence: M. Smith", 28), Block("e-mail: ms@example.org", 28)])])
    chunk = chunk_document(document)[0]
    quoted = [chunk.text[a:b] for a, b in sentence_spans(chunk.text, chunk.page_spans)]
    whole = ("The similar scores show that the tool achieves its primary focus of lowering barriers to paper reading "
             "without any loss in comprehension.")
    assert quoted[:3] == [whole, "In summary, the tool helps.",
                          "Participants read faster with the tool than without it."]
    assert chunk.page_spans == [(0, 27), (len(whole) + 1, 28)]  # the sentence on its first page, the rest on 28
    assert "Table rows follow\nUnrelated heading-like text" in chunk.text  # a capital starts a block of its own
    assert "ms@example.org" in quoted[-1] and not quoted[-1].startswith("Author")  # a record's label stays apart


def test_what_a_break_does_not_join() -> None:
    """A review's cases: a paragraph that opens with "p53" or "mRNA" after a sentence closed by a reference mark, or
    after a heading the reader missed, starts a sentence of its own; a word hyphenated across the break is one word
    again; a body sentence that runs through "University of Glasgow and" is joined (labels guard front matter only)."""
    def quotes(*blocks: str, section: str = "3 Results") -> list[str]:
        chunk = chunk_document(Document(paper_id="p", title="T", source="t", sections=[
            Section(section, [Block(text, 1) for text in blocks])]))[0]
        return [chunk.text[a:b] for a, b in sentence_spans(chunk.text, chunk.page_spans)]

    assert quotes("Loss of p53 drives genomic instability in many tumours.12,13", "p53 was mutated in 40% of them.") \
        == ["Loss of p53 drives genomic instability in many tumours.12,13", "p53 was mutated in 40% of them."]
    assert quotes("Expression of tumour suppressors", "mRNA levels of MDM2 rose twofold.")[1].startswith("mRNA")
    assert quotes("Passages are ranked for the retriev-", "al of answers. Then they are read.")[0] == \
        "Passages are ranked for the retrieval of answers."
    assert quotes("We recruited students at the University of Glasgow and", "staff at two hospitals.")[0] == \
        "We recruited students at the University of Glasgow and staff at two hospitals."


def test_a_run_of_lines_with_no_full_stop_is_joined_once() -> None:
    """A PDF that sets each line as a block and never ends a sentence (a word list, a code listing, a hostile
    upload) made every join re-read all the text before it: 8,000 lines took 100 s. The run is one block, read once."""
    lines = [Block(f"and item {n} of a list with no full stop", 1) for n in range(20_000)]
    joined = rejoined(lines)
    assert len(joined) == 1 and joined[0].text == " ".join(block.text for block in lines)
