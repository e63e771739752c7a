"""README.md is tested: its shell examples run in CI (against the local arXiv stand-in), its command list matches
the CLI and its links into docs/ lead to files; docs/configuration.md's tables match the settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import AliasChoices

from agent.settings import GROUPS
from cli.parser import COMMAND_GROUPS
from evals.arxiv_mirror import ArxivMirror
from tests.conftest import DATA, ROOT
from tests.readme_examples import doc_links, documented_commands, documented_settings, examples, run_examples, script

README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
NOT_SETTINGS = {"OPENAI_API_KEY", "OPENAI_BASE_URL"}  # read by the openai provider, not by Settings


@pytest.fixture(scope="module")
def arxiv_stand_in() -> Iterator[dict[str, str]]:
    with ArxivMirror(DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl") as mirror:
        yield {"SCISYNTH_ARXIV_API_URL": mirror.api_url, "SCISYNTH_ARXIV_PDF_URL": f"{mirror.base}/pdf/",
               "SCISYNTH_ALLOWED_FETCH_HOSTS": f"http://127.0.0.1:{mirror.base.rsplit(':', 1)[1]}",
               "SCISYNTH_ARXIV_DELAY_SECONDS": "0"}


def test_every_readme_example_runs(tmp_path: Path, arxiv_stand_in: dict[str, str]) -> None:
    env = {"HOME": str(tmp_path), "SCISYNTH_LLM": "extractive", **arxiv_stand_in}
    assert run_examples(README, ROOT, env) == []
    runnable = [example for example in examples(README) if not example.skipped]
    assert sum(len(script(example.code)[1]) for example in runnable) >= 6  # the quick start, at least


def test_a_broken_example_fails_the_test(tmp_path: Path) -> None:
    broken = ("```bash\nsource .venv/bin/activate\nscisynth --help    # → commands grouped by magic\n```\n\n"
              "```bash\nsource .venv/bin/activate\nscisynth summon-paper 1234\n```\n")
    failures = run_examples(broken, ROOT, {"HOME": str(tmp_path)})
    assert len(failures) == 2
    assert "did not print 'commands grouped by magic'" in failures[0] and "README.md:2" in failures[0]
    assert "`scisynth summon-paper 1234` exited 2" in failures[1] and "invalid choice" in failures[1]


def environment_variables() -> set[str]:
    """Each setting's variable: SCISYNTH_<FIELD>, or the upper-case name among its alias choices (SLACK_BOT_TOKEN)."""
    names = set()
    for group in GROUPS.values():
        for name, field in group.model_fields.items():
            alias = field.validation_alias
            own = [str(c) for c in alias.choices if str(c).isupper()] if isinstance(alias, AliasChoices) else []
            names.add(own[0] if own else f"SCISYNTH_{name.upper()}")
    return names


def test_the_configuration_table_matches_the_settings() -> None:
    names = environment_variables()
    documented = documented_settings(CONFIGURATION)
    assert names - documented == set(), "settings missing from docs/configuration.md's tables"
    assert documented - names - NOT_SETTINGS == set(), "docs/configuration.md documents settings that do not exist"
    shortlist = documented_settings(README, "## Configure")
    assert shortlist and shortlist - names - NOT_SETTINGS == set(), "README.md names settings that do not exist"


def test_the_command_list_matches_the_cli() -> None:
    commands = {name for group in COMMAND_GROUPS.values() for name, _, _ in group}
    mentioned = documented_commands(README)
    assert commands - mentioned == set(), "commands the README never shows"
    assert mentioned - commands == set(), "commands the README shows that do not exist"


def test_every_link_into_docs_leads_to_a_file() -> None:
    links = doc_links(README)
    assert {"docs/configuration.md", "docs/usage.md"} <= links
    assert {link for link in links if not (ROOT / link).is_file()} == set()


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
