"""README.md's shell examples as a test: each ```bash block runs, in order, in a fresh home, with the local
arXiv replay server standing in for arXiv. Every command must exit 0; a command ending in a comment
`# → TEXT` must print TEXT. A block right after `<!-- not run: REASON -->` is skipped, with its reason.
The configuration table (docs/configuration.md) and the command list (README.md) are checked against the code."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_BLOCK = re.compile(r"(?P<skip><!-- not run: (?P<reason>[^>]*) -->\s*)?```bash\n(?P<code>.*?)```", re.DOTALL)
_EXPECT = re.compile(r"#\s*→\s*(?P<text>.+)$")
MARKER = "@@README-COMMAND"


@dataclass
class Example:
    line: int  # where the block starts in README.md
    code: str
    skipped: str | None  # the reason, when the block is not run


def examples(markdown: str) -> list[Example]:
    return [Example(markdown[:m.start("code")].count("\n") + 1, m.group("code"), m.group("reason"))
            for m in _BLOCK.finditer(markdown)]


def _commands(code: str) -> list[tuple[str, str | None]]:
    """(command text with its continuation lines, expected output or None); heredocs stay with their command."""
    commands, current, heredoc = [], "", None
    for raw in code.splitlines():
        if heredoc is not None:
            current += "\n" + raw
            if raw.strip() == heredoc:
                heredoc = None
                commands.append(current)
                current = ""
            continue
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        current = f"{current}\n{raw}" if current else raw
        if match := re.search(r"<<-?'?(\w+)'?", raw):
            heredoc = match.group(1)
            continue
        if not raw.rstrip().endswith("\\"):
            commands.append(current)
            current = ""
    if current:
        commands.append(current)
    return [(command, (m.group("text").strip() if (m := _EXPECT.search(command.splitlines()[0])) else None))
            for command in commands]


def script(code: str) -> tuple[str, list[tuple[str, str | None]]]:
    """A bash script that announces each command before running it, and the commands with expectations."""
    commands = _commands(code)
    body = "\n".join(f"printf '\\n{MARKER} {i}\\n'\n{command}" for i, (command, _) in enumerate(commands))
    return f"set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{body}\n", commands


def run_examples(markdown: str, cwd: Path, env: dict[str, str], timeout: float = 900) -> list[str]:
    """Failures, one line each: the README line, the command, and what went wrong. Empty when all pass."""
    failures, shell_env = [], {**os.environ, **env}
    for example in examples(markdown):
        if example.skipped:
            continue
        text, commands = script(example.code)
        run = subprocess.run(["bash", "-c", text], cwd=cwd, env=shell_env, capture_output=True, text=True,
                             timeout=timeout)
        outputs = re.split(rf"^{MARKER} (\d+)$", run.stdout, flags=re.MULTILINE)
        printed = {int(outputs[i]): outputs[i + 1] for i in range(1, len(outputs) - 1, 2)}
        if run.returncode != 0:
            last = max(printed, default=0)
            failures.append(f"README.md:{example.line}: `{commands[last][0].splitlines()[0]}` exited "
                            f"{run.returncode}: {run.stderr.strip()[-600:]}")
            continue
        for i, (command, expected) in enumerate(commands):
            if expected and expected not in printed.get(i, ""):
                failures.append(f"README.md:{example.line}: `{command.splitlines()[0]}` did not print "
                                f"{expected!r}; it printed {printed.get(i, '')[:300]!r}")
    return failures


def documented_settings(markdown: str, heading: str = "## Settings") -> set[str]:
    """Environment variables named in the first column of the tables under `heading` (up to the next `## `)."""
    section = markdown[markdown.index(f"{heading}\n"):]
    end = section.find("\n## ", len(heading))
    section = section if end == -1 else section[:end]
    return {name for row in section.splitlines() if row.startswith("| `")
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def doc_links(markdown: str) -> set[str]:
    """The relative links to docs/*.md in a Markdown text (anchors dropped)."""
    return {target.split("#", 1)[0] for target in re.findall(r"\]\((docs/[^)\s]+)\)", markdown)
            if target.split("#", 1)[0].endswith(".md")}


def documented_commands(markdown: str) -> set[str]:
    return set(re.findall(r"\bscisynth ([a-z]+)\b", markdown))
