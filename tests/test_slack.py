"""The Slack bot: signed requests to the FastAPI app, the Web API client pointed at a real HTTP server on
127.0.0.1 that records chat.postMessage / chat.update and answers like Slack."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from urllib.parse import unquote, urlencode

import pytest
from fastapi.testclient import TestClient

from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from agent.turn import TurnResult
from api.answers import MRKDWN, format_result
from api.app import create_app
from api.page_links import page_link, read_link
from api.slack_format import split_message
from tests.slack_server import FakeSlack

SECRET = "test-signing-secret"


@pytest.fixture
def slack(library: Runtime) -> Iterator[tuple[TestClient, FakeSlack, Runtime]]:
    fake = FakeSlack()
    settings = Settings(home=library.settings.storage.home, llm="extractive", use_arxiv=False, api_keys="lab-key",
                        public_url="http://testserver", link_secret="a-long-random-link-secret",
                        **{"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake.url})
    runtime = build_runtime(settings, embedder=library.embedder)
    with TestClient(create_app(runtime=runtime)) as client:
        yield client, fake, runtime
    fake.httpd.shutdown()


def signed(body: str, timestamp: int | None = None, secret: str = SECRET, **headers: str) -> dict:
    stamp = str(timestamp or int(time.time()))
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature, **headers}


def event(text: str, event_id: str, ts: str, thread_ts: str | None = None, **extra: object) -> str:
    inner = {"type": "app_mention", "user": "U1", "text": text, "channel": "C1", "ts": ts, **extra}
    if thread_ts:
        inner["thread_ts"] = thread_ts
    return json.dumps({"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": event_id,
                       "event_time": int(time.time()), "event": inner})


def post(client: TestClient, body: str, headers: dict, form: bool = False) -> object:
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    return client.post("/slack/events", content=body, headers={**headers, "Content-Type": content_type})


def test_url_verification(slack) -> None:
    client, _, _ = slack
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"})
    assert post(client, body, signed(body)).json() == {"challenge": "c-123"}


def test_mention_gets_placeholder_then_answer_in_thread_and_follow_up_continues(slack) -> None:
    client, fake, runtime = slack
    body = event("<@UBOT> How does SPECTER use citations?", "Ev1", ts="100.1")
    started = time.monotonic()
    response = post(client, body, signed(body))
    assert response.status_code == 200 and time.monotonic() - started < 3  # acked at once
    placeholder = fake.wait_for("chat.postMessage", 1)[0]
    assert placeholder["thread_ts"] == "100.1" and "Searching" in placeholder["text"]
    final = fake.wait_for("chat.update", 1)[-1]
    deadline = time.monotonic() + 120
    while "References" not in final["text"] and time.monotonic() < deadline:
        time.sleep(0.2)
        final = fake.of("chat.update")[-1]
    assert final["channel"] == "C1" and "*References*" in final["text"] and "[1]" in final["text"]
    _cited_page_opens_without_a_key(client, final["text"])

    follow = event("<@UBOT> and what does S2ORC contain?", "Ev2", ts="100.5", thread_ts="100.1")
    post(client, follow, signed(follow))
    fake.wait_for("chat.postMessage", 2)
    deadline = time.monotonic() + 120
    conversations = []
    while time.monotonic() < deadline:
        conversations = [c for c in runtime.conversations.recent(None, 0, 100) if c.owner == "slack"]
        if conversations and len(runtime.conversations.messages(conversations[0].id)) == 4:
            break
        time.sleep(0.2)
    assert len(conversations) == 1  # the thread is one conversation
    assert [m.role for m in runtime.conversations.messages(conversations[0].id)] == ["user", "assistant"] * 2


def _cited_page_opens_without_a_key(client: TestClient, text: str) -> None:
    """A reference's page number links to the page, highlighted, by a signed address (Slack sends no key)."""
    links = re.findall(r"<http://testserver(/v1/shared/pages/[^|>]+)\|p\. (\d+)>", text)
    assert links, text
    path, _page = links[0]
    picture = client.get(path)
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    assert client.get("/v1/papers").status_code == 401  # everything else still needs the key
    token = path.removeprefix("/v1/shared/pages/").removesuffix(".png")
    payload, signature = token.split(".")
    # a forgery always differs from the signature: the first character changed (ending it in "AA" was the signature
    # itself about once in a thousand runs)
    forged_signature = ("B" if signature[0] != "B" else "C") + signature[1:]
    forged = client.get(f"/v1/shared/pages/{payload}.{forged_signature}.png")
    assert forged.status_code == 404 and forged.json()["detail"] == "this page link is not valid"


def test_page_links_expire_and_name_one_page() -> None:
    service = Settings(public_url="https://scisynth.example/", link_secret="s3cret", link_days=1).service
    link = page_link(service, "paper/1", 3, "a quote " * 100)
    assert link is not None and link.startswith("https://scisynth.example/v1/shared/pages/")
    token = unquote(link.removeprefix("https://scisynth.example/v1/shared/pages/").removesuffix(".png"))
    paper, page, quote = read_link(token, "s3cret")
    assert (paper, page) == ("paper/1", 3) and len(quote) <= 400 and quote.startswith("a quote")
    with pytest.raises(ValueError, match="not valid"):
        read_link(token, "another-secret")
    later = time.time() + 2 * 86400
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: later)
        with pytest.raises(ValueError, match="expired"):
            read_link(token, "s3cret")
    assert page_link(Settings(public_url="https://x.example").service, "p", 3, "q") is None  # no secret: no link
    assert page_link(service, "p", None, "q") is None  # no page: no link


def test_bad_signature_and_stale_timestamp_are_refused(slack) -> None:
    client, fake, _ = slack
    body = event("<@UBOT> anything?", "Ev3", ts="200.1")
    assert post(client, body, signed(body, secret="wrong")).status_code == 401
    assert post(client, body, signed(body, timestamp=int(time.time()) - 600)).status_code == 401
    time.sleep(1)
    assert fake.of("chat.postMessage") == []


def test_retried_event_runs_once_and_own_messages_are_ignored(slack) -> None:
    client, fake, _ = slack
    body = event("<@UBOT> What is S2ORC?", "Ev4", ts="300.1")
    post(client, body, signed(body))
    post(client, body, signed(body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}))
    own = event("<@UBOT> echo", "Ev5", ts="300.2", bot_id="BBOT")
    post(client, own, signed(own))
    edited = event("<@UBOT> edited", "Ev6", ts="300.3", subtype="message_changed")
    post(client, edited, signed(edited))
    fake.wait_for("chat.update", 1)
    time.sleep(2)
    assert len(fake.of("chat.postMessage")) == 1


def test_slash_command_acks_and_answers(slack) -> None:
    client, fake, _ = slack
    body = urlencode({"command": "/scisynth", "text": "ask What is S2ORC?", "channel_id": "C9", "user_id": "U1",
                      "team_id": "T1", "response_url": fake.url + "response", "trigger_id": "t"})
    response = post(client, body, signed(body), form=True)
    assert response.status_code == 200 and "Working on" in response.text
    help_body = urlencode({"command": "/scisynth", "text": "help", "channel_id": "C9", "user_id": "U1",
                           "team_id": "T1", "response_url": fake.url + "response", "trigger_id": "t"})
    assert "/scisynth ask" in post(client, help_body, signed(help_body), form=True).text
    assert fake.wait_for("chat.update", 1)


def test_long_answers_split_at_paragraphs_without_cutting_citations() -> None:
    citations = [{"n": i, "paper_id": f"p{i}", "title": f"Paper {i}", "section": "S", "page": i,
                  "quote": "q" * 200, "url": f"https://arxiv.org/abs/{i}"} for i in range(1, 31)]
    answer = "\n\n".join(f"Claim number {i} is supported by the evidence. [{i}]" for i in range(1, 31))
    text = format_result(TurnResult(answer=answer * 3, citations=citations, provider="x"), MRKDWN)
    pieces = split_message(text, limit=1500)
    assert len(pieces) > 2 and all(len(p) <= 1500 for p in pieces)
    assert "".join(pieces).count("<https://arxiv.org/abs/7|[7]>") == text.count("<https://arxiv.org/abs/7|[7]>")
    for piece in pieces:
        assert piece.count("<") == piece.count(">")
