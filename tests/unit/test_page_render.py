"""The quote highlighted where it is printed: across a hyphenated line break, a page break and a column break;
nothing highlighted when it is not on the page."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from tools.page_render import locate, render

FILLER = "Unrelated words fill this line of the page so that common words occur here too."


def _overlaps(a: tuple[float, ...], b: pymupdf.Rect) -> bool:
    return a[0] < b.x1 and b.x0 < a[2] and a[1] < b.y1 and b.y0 < a[3]


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    document = pymupdf.open()
    first = document.new_page()
    first.insert_text((72, 72), "\n".join([FILLER, "The evaluation dataset includes approximately thirty thou-",
                                            "sand papers from a held-out pool of papers.", FILLER]), fontsize=10)
    first.insert_text((72, 760), "This sentence begins at the foot of the first page and", fontsize=10)
    second = document.new_page()
    second.insert_text((72, 72), "runs on to the top of the second page of the paper.", fontsize=10)
    second.insert_text((72, 300), "A quote may start in the left column", fontsize=10)
    second.insert_text((320, 100), "and end in the right column of a page.", fontsize=10)
    path = tmp_path / "paper.pdf"
    document.save(path)
    return path


def test_a_word_broken_at_a_line_end_is_found_and_both_halves_highlighted(pdf: Path) -> None:
    quote = "The evaluation dataset includes approximately thirty thousand papers from a held-out pool of papers."
    with pymupdf.open(pdf) as document:
        location = locate(document, 1, quote)
        printed = document[0].search_for("thou-") + document[0].search_for("sand papers")
    assert location.found and location.coverage == 1.0
    assert location.pages == [1] and len(location.boxes[1]) == 2  # one box per printed line
    for word in printed:
        assert any(_overlaps(box, word) for box in location.boxes[1])


def test_a_quote_running_on_to_the_next_page_is_highlighted_on_both(pdf: Path) -> None:
    quote = ("This sentence begins at the foot of the first page and runs on to the top of the second page of "
             "the paper.")
    pictures = [render(pdf, 1, quote, zoom=1.0), render(pdf, 2, quote, zoom=1.0, located_on=1)]
    assert [p.page for p in pictures] == [1, 2]
    assert pictures[0].location.found and pictures[0].location.pages == [1, 2]
    with pymupdf.open(pdf) as document:
        tail, head = document[0].search_for("first page and")[0], document[1].search_for("runs on to")[0]
    assert any(_overlaps(box, tail) for box in pictures[0].location.boxes[1])
    assert any(_overlaps(box, head) for box in pictures[1].location.boxes[2])
    # the second picture is drawn yellow where the quote's second half is printed
    image = pymupdf.Pixmap(pictures[1].png)
    red, green, blue = image.pixel(round(head.x0 + 3), round((head.y0 + head.y1) / 2))[:3]
    assert blue < 150 and red > 200 and green > 150, (red, green, blue)


def test_a_quote_across_two_columns(pdf: Path) -> None:
    with pymupdf.open(pdf) as document:
        location = locate(document, 2, "A quote may start in the left column and end in the right column of a page.")
        left, right = document[1].search_for("left column")[0], document[1].search_for("right column")[0]
    assert location.found
    assert any(_overlaps(box, left) for box in location.boxes[2])
    assert any(_overlaps(box, right) for box in location.boxes[2])


def test_a_quote_not_on_the_page_highlights_nothing(pdf: Path) -> None:
    with pymupdf.open(pdf) as document:
        location = locate(document, 1, "Common words of the page, this line and so, do not make a quote that is "
                                       "printed here about protein folding kinetics.")
    assert not location.found and not location.boxes and location.coverage < 0.6
    picture = render(pdf, 1, "protein folding kinetics in yeast", zoom=0.5)
    assert not picture.location.found and picture.png.startswith(b"\x89PNG")


def test_a_page_the_file_does_not_have(pdf: Path) -> None:
    with pytest.raises(ValueError, match="page 7 is not in this paper: it has 2 pages"):
        render(pdf, 7)


def test_zoom_is_bounded_by_the_page_size(tmp_path: Path) -> None:
    document = pymupdf.open()
    document.new_page(width=5000, height=5000)  # a poster
    document.save(tmp_path / "poster.pdf")
    picture = render(tmp_path / "poster.pdf", 1, zoom=3.0)
    assert max(picture.width, picture.height) <= 3000


def test_the_page_cache_is_pruned_to_its_byte_budget(pdf: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from service import pages
    from service.pages import PageCache

    picture = render(pdf, 1, zoom=0.5)
    monkeypatch.setattr(pages, "CACHE_BYTES", len(picture.png) * 2 + 10)
    monkeypatch.setattr(pages, "PRUNE_EVERY", 3)
    cache = PageCache(tmp_path / "pages")
    for key in ("a", "b", "c"):
        cache.put(key, "paper-1", picture)
    assert len(list((tmp_path / "pages").glob("*.png"))) == 2  # pruned on the third write
    assert cache.get("c", "paper-1") is not None and cache.get("c", "another-paper") is None
