"""Prompt templates as text files, one per task, loaded by name.

Each file starts with `#` comment lines naming its variables; the rest is a `string.Template`
(`$question`, `$evidence`), so JSON examples in a prompt need no brace escaping.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from string import Template


@cache
def load_prompt(name: str) -> Template:
    text = files("prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()
    return Template(body)


def render(name: str, **variables: str) -> str:
    """The prompt with its variables filled; a missing variable is an error, not a silent blank."""
    return load_prompt(name).substitute(**variables)
