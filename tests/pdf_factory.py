"""PDFs the tests make themselves, so each expectation is exact."""

from __future__ import annotations

from pathlib import Path

import pymupdf


def write_pdf(path: Path, pages: list[list[tuple[float, float, str]]], fontsize: float = 10) -> Path:
    """One page per list; each item is (x, y, text) placed with insert_text (multi-line allowed)."""
    pdf = pymupdf.open()
    for items in pages:
        page = pdf.new_page(width=595, height=842)
        for x, y, text in items:
            page.insert_text((x, y), text, fontsize=fontsize)
    pdf.save(path)
    pdf.close()
    return path


def write_encrypted_pdf(path: Path) -> Path:
    pdf = pymupdf.open()
    pdf.new_page().insert_text((72, 72), "secret results")
    pdf.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")
    pdf.close()
    return path


def write_image_only_pdf(path: Path) -> Path:
    pdf = pymupdf.open()
    page = pdf.new_page()
    page.draw_rect(pymupdf.Rect(100, 100, 300, 300), color=(0, 0, 0), fill=(0.5, 0.5, 0.5))
    pdf.save(path)
    pdf.close()
    return path
