"""The Slack bot (slack-bolt): mentions and direct messages start or continue a research conversation in
a thread; `/scisynth ask|hypothesize|papers|help` works anywhere.

Bolt verifies Slack's signature and 5-minute timestamp window and acks within Slack's 3 seconds; the
research runs afterwards in Bolt's worker threads. A thread (channel + thread ts) maps to one SciSynth
conversation, stored in the database, so follow-ups in the thread see the earlier evidence. Retried or
duplicate events run once; the bot ignores itself, other bots and edited/joined message events.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime

from slack_bolt import Ack, App, BoltResponse, Respond
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from agent.runtime import Runtime
from api.answers import MRKDWN, format_result, slack_escape
from api.slack_format import split_message
from retrieval.schema import ensure_schema

log = logging.getLogger(__name__)
_MENTION = re.compile(r"<@[A-Z0-9]+>\s*")
HELP = ("*SciSynth* answers research questions with citations to the page.\n"
        "• Mention me or DM me a question; reply in the thread to follow up.\n"
        "• `/scisynth ask QUESTION` · `/scisynth hypothesize TOPIC` · `/scisynth papers` · `/scisynth help`")
SORRY = "Sorry, something went wrong while researching that. The details are in the server log; please try again."


class SlackThreadRow(SQLModel, table=True):
    __tablename__ = "slack_threads"

    thread_key: str = Field(primary_key=True)  # "channel:thread_ts"
    conversation_id: str


class SlackEventRow(SQLModel, table=True):
    """Event ids already handled: Slack retries and duplicates must not start a second run."""

    __tablename__ = "slack_events"

    event_id: str = Field(primary_key=True)
    seen_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def first_delivery(engine: Engine, signature: str) -> bool:
    """Whether this signed request is new: a signature is remembered, so a signed request replayed within Slack's
    5-minute window (a slash command has no event id to de-duplicate) runs once."""
    try:
        with Session(engine) as session:
            session.add(SlackEventRow(event_id=f"signature:{signature[:100]}"))
            session.commit()
    except IntegrityError:
        log.warning("a replayed Slack request was ignored (its signature was seen before)")
        return False
    return True


class SlackBot:
    def __init__(self, runtime: Runtime, token: str, signing_secret: str, api_url: str | None = None,
                 progress_interval: float = 1.5) -> None:
        self.runtime = runtime
        self.progress_interval = progress_interval
        ensure_schema(runtime.engine)
        client = WebClient(token=token, base_url=api_url or WebClient.BASE_URL)
        self.app = App(token=token, signing_secret=signing_secret, client=client, token_verification_enabled=False,
                       process_before_response=False)
        self.app.middleware(self._skip_duplicates)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.command("/scisynth")(ack=self._ack_command, lazy=[self._run_command])

    # --- plumbing -------------------------------------------------------------------------------------

    def _skip_duplicates(self, body: dict, next: object) -> BoltResponse | None:
        event_id = body.get("event_id")
        if event_id:
            try:
                with Session(self.runtime.engine) as session:
                    session.add(SlackEventRow(event_id=event_id))
                    session.commit()
            except IntegrityError:
                log.info("duplicate Slack event %s ignored", event_id)
                return BoltResponse(status=200, body="")
        return next()

    def _conversation(self, channel: str, thread_ts: str, title: str) -> str:
        key = f"{channel}:{thread_ts}"
        with Session(self.runtime.engine) as session:
            row = session.get(SlackThreadRow, key)
            if row is not None:
                return row.conversation_id
        conversation = self.runtime.conversations.create(title, owner="slack").id
        with Session(self.runtime.engine) as session:
            session.add(SlackThreadRow(thread_key=key, conversation_id=conversation))
            session.commit()
        return conversation

    def research(self, client: WebClient, channel: str, thread_ts: str, text: str, mode: str = "ask") -> None:
        """Placeholder in the thread, progress updates, then the answer (split over replies if long)."""
        question = _MENTION.sub("", text).strip()
        if not question:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=HELP)
            return
        placeholder = client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                              text="Searching your library and arXiv…")["ts"]
        last_update = time.monotonic()

        def progress(event: dict) -> None:
            nonlocal last_update
            if event["event"] == "status" and time.monotonic() - last_update >= self.progress_interval:
                last_update = time.monotonic()
                client.chat_update(channel=channel, ts=placeholder, text=f"Working… {event['data']['node']}: "
                                                                         f"{event['data']['detail'][:150]}")

        try:
            conversation = self._conversation(channel, thread_ts, question)
            result = self.runtime.ask(question, conversation, mode=mode, emit=progress)
            first, *rest = split_message(format_result(result, MRKDWN))
            client.chat_update(channel=channel, ts=placeholder, text=first)
            for piece in rest:
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=piece)
        except Exception:
            log.exception("Slack research turn failed")
            client.chat_update(channel=channel, ts=placeholder, text=SORRY)

    # --- listeners ------------------------------------------------------------------------------------

    def _on_mention(self, event: dict, client: WebClient) -> None:
        if event.get("bot_id") or event.get("subtype"):
            return
        self.research(client, event["channel"], event.get("thread_ts") or event["ts"], event.get("text", ""))

    def _on_message(self, event: dict, client: WebClient) -> None:
        """Direct messages (channel type im); everything else reaches us as app_mention."""
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return
        self.research(client, event["channel"], event.get("thread_ts") or event["ts"], event.get("text", ""))

    def _ack_command(self, ack: Ack, command: dict) -> None:
        verb = (command.get("text") or "").strip().split(" ", 1)[0]
        ack(HELP if verb in ("", "help") else f"Working on `{command.get('text', '')[:100]}`…")

    def _run_command(self, command: dict, client: WebClient, respond: Respond) -> None:
        verb, _, rest = (command.get("text") or "").strip().partition(" ")
        if verb in ("", "help"):
            return
        if verb == "papers":
            papers = self.runtime.catalog.papers(limit=20)
            lines = [f"• {slack_escape(p.title)}" + (f" <{p.url}|arXiv>" if p.url else "") for p in papers]
            respond("\n".join(lines) or "The library is empty.")
            return
        if verb not in ("ask", "hypothesize") or not rest.strip():
            respond(f"Unknown command `{verb}`.\n{HELP}")
            return
        opened = client.chat_postMessage(channel=command["channel_id"], text=f"*{rest.strip()[:200]}*")
        self.research(client, command["channel_id"], opened["ts"], rest, mode=verb)
