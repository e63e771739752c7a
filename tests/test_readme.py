"""README.md is tested: its shell examples run in CI (against the local arXiv stand-in), its configuration
table matches the settings, and its command list matches the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.settings import Settings
from cli.parser import COMMAND_GROUPS
from evals.arxiv_mirror import ArxivMirror
from tests.conftest import DATA, ROOT
from tests.readme_examples import documented_commands, documented_settings, examples, run_examples

README = (ROOT / "README.md").read_text(encoding="utf-8")
NOT_SETTINGS = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "SLACK_APP_TOKEN"}  # read by the providers and `scisynth slack`


@pytest.fixture(scope="module")
def arxiv_stand_in() -> Iterator[dict[str, str]]:
    with ArxivMirror(DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl") as mirror:
        yield {"SCISYNTH_ARXIV_API_URL": mirror.api_url, "SCISYNTH_ARXIV_PDF_URL": f"{mirror.base}/pdf/",
               "SCISYNTH_ALLOWED_FETCH_HOSTS": f"http://127.0.0.1:{mirror.base.rsplit(':', 1)[1]}",
               "SCISYNTH_ARXIV_DELAY_SECONDS": "0"}


def test_every_readme_example_runs(tmp_path: Path, arxiv_stand_in: dict[str, str]) -> None:
    env = {"HOME": str(tmp_path), "SCISYNTH_LLM": "extractive", **arxiv_stand_in}
    assert run_examples(README, ROOT, env) == []
    assert len([e for e in examples(README) if not e.skipped]) >= 4


def test_a_broken_example_fails_the_test(tmp_path: Path) -> None:
    broken = ("```bash\nsource .venv/bin/activate\nscisynth --help    # → commands grouped by magic\n```\n\n"
              "```bash\nsource .venv/bin/activate\nscisynth summon-paper 1234\n```\n")
    failures = run_examples(broken, ROOT, {"HOME": str(tmp_path)})
    assert len(failures) == 2
    assert "did not print 'commands grouped by magic'" in failures[0] and "README.md:2" in failures[0]
    assert "`scisynth summon-paper 1234` exited 2" in failures[1] and "invalid choice" in failures[1]


def test_the_configuration_table_matches_the_settings() -> None:
    fields = Settings.model_fields
    names = {(f.validation_alias if isinstance(f.validation_alias, str) else f"SCISYNTH_{name.upper()}")
             for name, f in fields.items()}
    documented = documented_settings(README)
    assert names - documented == set(), "settings missing from README.md's configuration table"
    assert documented - names - NOT_SETTINGS == set(), "README.md documents settings that do not exist"


def test_the_command_list_matches_the_cli() -> None:
    commands = {name for group in COMMAND_GROUPS.values() for name, _, _ in group}
    mentioned = documented_commands(README)
    assert commands - mentioned == set(), "commands the README never shows"
    assert mentioned - commands == set(), "commands the README shows that do not exist"


def test_every_option_has_help() -> None:
    from cli.main import HANDLERS
    from cli.parser import build_parser

    parser = build_parser(HANDLERS, "hf:owner/repo/file.gguf")
    missing = []
    for action in parser._subparsers._group_actions[0].choices.values():  # each command's parser
        for option in action._actions:
            if not option.help and option.dest != "help":
                missing.append(f"{action.prog} {option.dest}")
    assert missing == []
