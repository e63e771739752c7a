"""Section-aware passages of a token budget, each knowing the page of every character it holds.

A chunk never crosses a section boundary. It may cross a page boundary inside a section, so it keeps
`page_spans`: (offset, page) pairs saying where in its text each page starts. That lets a citation
quote any sentence of the chunk and still point to the right page. Paragraphs are joined with a
newline, so a quote never runs from one block into the next; each caption is a passage of its own, and
each table is one or more passages of its own: its caption, its header row, then as many of its rows as fit,
one row per line, so a quote from a table is a row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import pairwise

from retrieval.sentences import MID_SENTENCE_WORD, split_sentences
from store.catalog import Chunk, PageSpans
from tools.documents import FRONT_MATTER, Block, Document, Section
from tools.front_matter import is_front_label
from tools.pdf import dehyphenated

TokenCounter = Callable[[str], int]


def sentence_spans(text: str, page_spans: PageSpans) -> list[tuple[int, int]]:
    """Sentence spans of a chunk's text, cut at block breaks (newlines) and where a new page starts,
    so each span lies in one block on one page."""
    page_starts = [offset for offset, _ in page_spans[1:]]
    spans: list[tuple[int, int]] = []
    for start, end in _block_sentences(text):
        cuts = [start] + [o for o in page_starts if start < o < end] + [end]
        spans.extend(_strip_span(text, a, b) for a, b in pairwise(cuts) if text[a:b].strip())
    return spans


_TABLE_RULE = re.compile(r"^\|[-|: ]*$")  # the Markdown line under a table's header row


def _block_sentences(text: str) -> list[tuple[int, int]]:
    """Sentences of each line; a table row ("| a | b |") is one sentence, its header rule none."""
    spans, block_start = [], 0
    for block in text.split("\n"):
        if block.startswith("|"):
            spans.extend([] if _TABLE_RULE.match(block) else [(block_start, block_start + len(block))])
        else:
            spans.extend((block_start + s, block_start + e) for s, e in split_sentences(block))
        block_start += len(block) + 1
    return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def word_count(text: str) -> int:
    """A tokenizer-free stand-in for token counting (about 0.75 words per model token)."""
    return int(len(text.split()) * 1.33) + 1


def _pieces(text: str, page: int, count_tokens: TokenCounter, max_tokens: int) -> Iterator[tuple[str, int]]:
    """Sentences of a block; a sentence longer than the budget is cut into word windows."""
    for start, end in split_sentences(text):
        sentence = text[start:end]
        if count_tokens(sentence) <= max_tokens:
            yield sentence, page
            continue
        words = sentence.split()
        step = max(1, int(max_tokens / 1.4))
        for i in range(0, len(words), step):
            yield " ".join(words[i:i + step]), page


Piece = tuple[str, int, int, int]  # (sentence, page, tokens, block number)


def _make_chunk(paper_id: str, ordinal: int, section: str, pending: list[Piece]) -> Chunk:
    text, spans, previous_block = "", [], None
    for sentence, page, _, block in pending:
        if text:
            text += " " if block == previous_block else "\n"
        previous_block = block
        if not spans or spans[-1][1] != page:
            spans.append((len(text), page))
        text += sentence
    return Chunk(paper_id, ordinal, section, text, spans)


_CAPTION_LABEL = re.compile(r"^\s*(?:(Supplementary)\s+)?(Fig(?:ure)?\.?|Table|Scheme|Plate)\s*"
                            r"(S?(?:\d+|[IVXL]+)[a-z]?)\b", re.IGNORECASE)


def caption_label(text: str) -> str:
    """ "Figure 2", "Table IV", "Supplementary Table S1" from a caption's opening words; "Caption" otherwise."""
    match = _CAPTION_LABEL.match(text)
    if not match:
        return "Caption"
    kind = "Figure" if match.group(2).lower().startswith("fig") else match.group(2).capitalize()
    return " ".join(filter(None, ["Supplementary" if match.group(1) else "", kind, match.group(3)]))


# A sentence's end, with what may follow its full stop: a reference mark (".12,13", ". [12]") or a callout.
_ENDS_SENTENCE = re.compile(r"[.!?:;][\"'”’)\]]*(?:\s*(?:\[[\d,–\-\s]+\]|\d{1,3}(?:[,–-]\d{1,3})*|"
                            r"\([^()]{1,40}\)))?\s*$")
_CONTINUES = re.compile(rf"^{MID_SENTENCE_WORD}")
# A block that stops on one of these words stops mid-sentence whatever the next one starts with ("... than the" |
# "V8 engine ...").
_STOPS_MIDWAY = re.compile(r"\b(?:the|a|an|of|and|or|to|in|for|with|by|on|at|from|that|which|than|is|are|was|were|"
                           r"be|been|we|our|its|their|this|these|between|into|whose)\s*$", re.IGNORECASE)


def rejoined(blocks: list[Block], front_matter: bool = False) -> list[Block]:
    """Paragraphs with each sentence that a column or page break split across two blocks made whole again (and
    each line of a PDF that sets every line as a block of its own joined to its sentence): where a block stops
    mid-sentence and the next goes on in lower case (or the block stops on "the", "of", "and"...), the next one's
    words up to its first sentence end move to the block where the sentence began, and are cited to that block's
    page. Without this a quote would be half a sentence ("barriers to paper reading without any loss in paper
    comprehension."). Each joined block is built from its pieces once, so a run of thousands of lines with no full
    stop costs what it reads, not the square of it."""
    runs: list[tuple[Block, list[str]]] = []  # each block kept, with the pieces its text is made of
    for block in blocks:
        if not runs or not _goes_on(runs[-1][1], block.text, front_matter):
            runs.append((block, [block.text]))
            continue
        end = split_sentences(block.text)[0][1]
        runs[-1][1].append(block.text[:end])
        if rest := block.text[end:].strip():
            runs.append((replace(block, text=rest), [rest]))
    # "retriev-" | "al of passages" is one word again, as inside a block
    return [block if len(pieces) == 1 else replace(block, text=dehyphenated("\n".join(pieces)).replace("\n", " "))
            for block, pieces in runs]


def _goes_on(pieces: list[str], text: str, front_matter: bool) -> bool:
    """Whether `text` goes on with the sentence the block made of `pieces` stops in the middle of."""
    last = pieces[-1]
    midway = bool(_CONTINUES.match(text)) or bool(_STOPS_MIDWAY.search(last[-40:]))
    return (midway and not _ENDS_SENTENCE.search(last[-80:]) and (len(pieces) > 1 or len(last.split()) >= 3)
            and not (front_matter and is_front_label(" ".join(pieces))))


def _runs(section: Section) -> Iterator[tuple[str, list[Block]]]:
    """The section's text as one run, then each caption and table as its own run titled after it ("Results >
    Figure 2"): a passage never mixes a caption or a table with body text, so neither is quoted as a finding."""
    body = rejoined([block for block in section.blocks if block.kind == "paragraph"], section.title == FRONT_MATTER)
    if body:
        yield section.title, body
    for block in section.blocks:
        if block.kind != "paragraph":
            yield f"{section.title} > {caption_label(block.text)}", [block]


def _fitted(text: str, count_tokens: TokenCounter, max_tokens: int) -> str:
    """The longest run of `text`'s first words within `max_tokens`."""
    if count_tokens(text) <= max_tokens:
        return text
    words = text.split()
    while len(words) > 1 and count_tokens(" ".join(words)) > max_tokens:
        words = words[: max(1, int(len(words) * 0.8))]
    return " ".join(words)


def _table_chunks(paper_id: str, ordinal: int, title: str, table: Block, count_tokens: TokenCounter,
                  max_tokens: int) -> list[Chunk]:
    """A table's rows packed into passages that each repeat its caption and header, so every passage of a
    table can be read (and every row quoted) on its own. A caption longer than a third of the budget is cut
    in the table's passages (the whole caption is a passage of its own, made by the caller); a row longer
    than what is left is cut likewise."""
    caption, header, rule, *rows = table.text.split("\n")
    head = [_fitted(caption, count_tokens, max_tokens // 3), _fitted(header, count_tokens, max_tokens // 3), rule]
    room = max_tokens - sum(count_tokens(line) for line in head) - len(head)
    groups: list[list[str]] = [[]]
    used = 0  # tokens of the rows in the last group (a row's line break counts one)
    for row in (_fitted(row, count_tokens, room) for row in rows):
        tokens = count_tokens(row)
        if groups[-1] and used + tokens > room:
            groups.append([])
            used = 0
        groups[-1].append(row)
        used += tokens + 1
    return [Chunk(paper_id, ordinal + i, title, "\n".join(head + group), [(0, table.page)])
            for i, group in enumerate(groups)]


def chunk_document(
    document: Document,
    count_tokens: TokenCounter = word_count,
    max_tokens: int = 256,
    overlap_sentences: int = 1,
) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `max_tokens`, repeating the last
    `overlap_sentences` of a chunk at the start of the next one in the same section."""
    chunks: list[Chunk] = []
    for run_title, blocks in (run for section in document.sections for run in _runs(section)):
        if blocks[0].kind == "table":
            chunks.extend(_table_chunks(document.paper_id, len(chunks), run_title, blocks[0], count_tokens,
                                        max_tokens))
            caption = blocks[0].text.split("\n")[0]
            if count_tokens(caption) <= max_tokens // 3:
                continue
            blocks = [Block(caption, blocks[0].page, "caption")]
        pending: list[Piece] = []
        label_before = None
        for block_number, block in enumerate(blocks):
            # A first page's front matter mixes an unheaded abstract with addresses, dates and licence lines: a
            # passage never joins the two, so the abstract is found and quoted as what it is.
            label = run_title == FRONT_MATTER and is_front_label(block.text)
            if pending and label != label_before:
                chunks.append(_make_chunk(document.paper_id, len(chunks), run_title, pending))
                pending = []
            label_before = label
            for sentence, page in _pieces(block.text, block.page, count_tokens, max_tokens):
                tokens = count_tokens(sentence)
                if pending and sum(p[2] for p in pending) + tokens > max_tokens:
                    chunks.append(_make_chunk(document.paper_id, len(chunks), run_title, pending))
                    kept = pending[-overlap_sentences:] if overlap_sentences else []
                    # Overlap only while it stays under half the budget and leaves room for the new sentence.
                    overlap = sum(p[2] for p in kept)
                    pending = kept if overlap <= max_tokens // 2 and overlap + tokens <= max_tokens else []
                pending.append((sentence, page, tokens, block_number))
        if pending:
            chunks.append(_make_chunk(document.paper_id, len(chunks), run_title, pending))
    return chunks
