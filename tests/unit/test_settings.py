"""Settings in groups: every environment variable keeps its name, flat names given in code go to their group, an
unknown name is an error, and every answer-quality threshold is in one group."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.settings import GROUPS, AnswerSettings, Settings, environment_names


def test_environment_variables_reach_their_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCISYNTH_CHUNK_TOKENS", "128")
    monkeypatch.setenv("SCISYNTH_RELEVANCE_CUTOFF", "0.3")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("ZOTERO_LIBRARIES", "group:1,user:2")
    settings = Settings()
    assert settings.retrieval.chunk_tokens == 128 and settings.answer.relevance_cutoff == 0.3
    assert settings.slack.slack_bot_token == "xoxb-test" and settings.zotero.library_list == ["group:1", "user:2"]


def test_flat_names_in_code_go_to_their_group_and_the_rest_comes_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("SCISYNTH_EVIDENCE_K", "5")
    settings = Settings(home=tmp_path, chunk_tokens=64, SLACK_SIGNING_SECRET="secret")
    assert settings.storage.home == tmp_path and settings.retrieval.chunk_tokens == 64
    assert settings.slack.slack_signing_secret == "secret" and settings.answer.evidence_k == 5
    changed = settings.with_changes(chunk_tokens=128)
    assert changed.retrieval.chunk_tokens == 128 and changed.storage.home == tmp_path
    assert changed.slack.slack_signing_secret == "secret" and settings.retrieval.chunk_tokens == 64


def test_unknown_and_invalid_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown setting 'chunk_size'"):
        Settings(chunk_size=128)
    with pytest.raises(ValidationError, match="greater than or equal to 32"):
        Settings(chunk_tokens=8)


def test_every_variable_has_one_field_and_no_name_is_in_two_groups() -> None:
    fields = [name for model in GROUPS.values() for name in model.model_fields]
    assert len(fields) == len(set(fields))
    assert len(environment_names()) == len(fields)
    assert environment_names()["SLACK_BOT_TOKEN"] == "slack_bot_token"
    assert environment_names()["SCISYNTH_ANSWER_THRESHOLD"] == "answer_threshold"


def test_the_answer_thresholds_say_why() -> None:
    for name, field in AnswerSettings.model_fields.items():
        assert field.description and len(field.description) > 20, name


def test_trusted_proxies_are_addresses_or_networks() -> None:
    """The proxies exempt from the per-client connection cap are read as uvicorn reads them for X-Forwarded-For."""
    from api.server import trusted

    check = trusted(["127.0.0.1", "10.244.0.0/16"])
    assert check("127.0.0.1") and check("10.244.3.7") and not check("10.245.0.1") and not check("unix-socket")
    assert trusted(["*"])("192.0.2.1") and not trusted([])("127.0.0.1")
    with pytest.raises(ValidationError, match="not an address or a network"):
        Settings(trusted_proxies="10.0.0.0/8,proxy.example")


def test_a_query_retrieves_at_least_the_evidence_it_chooses_from() -> None:
    """More evidence passages than a query retrieves cannot be chosen: a clear error, not a silent cap."""
    with pytest.raises(ValidationError, match="retrieved_per_query \\(6\\) must be at least evidence_k \\(8\\)"):
        AnswerSettings(retrieved_per_query=6)
    assert AnswerSettings(evidence_k=40, retrieved_per_query=40).retrieved_per_query == 40
