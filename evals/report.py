"""Tables as the eval runner, the research scripts and the benchmarks print them (Markdown)."""

from __future__ import annotations


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table; floats with three decimals."""
    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
