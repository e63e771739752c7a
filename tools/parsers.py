"""Pick the parser for a file by its suffix."""

from __future__ import annotations

from pathlib import Path

from tools.documents import Document, DocumentError
from tools.pdf import parse_pdf

SUPPORTED_SUFFIXES = (".pdf",)


def parse_file(path: Path) -> list[Document]:
    """All papers in a file (a PDF holds one). Raises DocumentError naming the file and the reason."""
    path = Path(path)
    if not path.exists():
        raise DocumentError(path, "no such file")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return [parse_pdf(path)]
    readable = ", ".join(SUPPORTED_SUFFIXES)
    raise DocumentError(path, f"unsupported file type {suffix or '(none)'}; SciSynth reads {readable}")


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files named directly, plus the supported files found under any folder, in a stable order."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES))
        else:
            files.append(path)
    return files
