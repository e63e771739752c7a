"""The Slack bot (slack-bolt): mentions and direct messages start or continue a research conversation in
a thread; `/scisynth ask|hypothesize|check|papers|help` works anywhere.

Bolt verifies Slack's signature and 5-minute timestamp window and acks within Slack's 3 seconds; the
research runs afterwards in Bolt's worker threads. A thread (channel + thread ts) maps to one SciSynth
conversation, stored in the database, so follow-ups in the thread see the earlier evidence. Retried or
duplicate events run once; the bot ignores itself, other bots and edited/joined message events.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace

from slack_bolt import Ack, App, BoltResponse, Respond
from slack_sdk import WebClient

from agent.turn import TurnEvent, TurnRequest
from api.answers import MRKDWN, format_check, format_result, slack_escape
from api.page_links import page_link
from api.slack_format import split_message
from service import Services
from store.slack import SlackRecords

log = logging.getLogger(__name__)
_MENTION = re.compile(r"<@[A-Z0-9]+>\s*")
HELP = ("*SciSynth* answers research questions with citations to the page.\n"
        "• Mention me or DM me a question; reply in the thread to follow up.\n"
        "• `/scisynth ask QUESTION` · `/scisynth hypothesize TOPIC` · `/scisynth check [--arxiv] CLAIM` "
        "(`--arxiv`: read arXiv's papers on it into the library first) · `/scisynth papers` · `/scisynth help`")
SORRY = "Sorry, something went wrong while researching that. The details are in the server log; please try again."


class SlackBot:
    def __init__(self, services: Services, token: str, signing_secret: str, api_url: str | None = None,
                 progress_interval: float = 1.5) -> None:
        self.services = services
        self.progress_interval = progress_interval
        self.records = SlackRecords(services.runtime.engine)
        links = services.runtime.settings.service
        # Slack sends no API key: a cited page is linked by a signed address when the operator configured one.
        self.style = replace(MRKDWN, page_link=lambda paper, page, quote: page_link(links, paper, page, quote))
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
        if event_id and not self.records.first_time(event_id):
            log.info("duplicate Slack event %s ignored", event_id)
            return BoltResponse(status=200, body="")
        return next()

    def _conversation(self, channel: str, thread_ts: str, title: str) -> str:
        key = f"{channel}:{thread_ts}"
        known = self.records.conversation_of(key)
        if known is not None:
            return known
        conversation = self.services.runtime.conversations.create(title, owner="slack").id
        self.records.remember_thread(key, conversation)
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

        def progress(event: TurnEvent) -> None:
            nonlocal last_update
            if event.event == "status" and time.monotonic() - last_update >= self.progress_interval:
                last_update = time.monotonic()
                client.chat_update(channel=channel, ts=placeholder, text=f"Working… {event.data['node']}: "
                                                                         f"{event.data['detail'][:150]}")

        try:
            conversation = self._conversation(channel, thread_ts, question)
            result = self.services.turns.run(TurnRequest(question=question, mode=mode, conversation_id=conversation),
                                             progress)
            first, *rest = split_message(format_result(result, self.style))
            client.chat_update(channel=channel, ts=placeholder, text=first)
            for piece in rest:
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=piece)
        except Exception:
            log.exception("Slack research turn failed")
            client.chat_update(channel=channel, ts=placeholder, text=SORRY)

    def check(self, client: WebClient, channel: str, claim: str, arxiv: bool = False) -> None:
        """The claim as a message, the check in its thread (split over replies if long); with `arxiv`, after
        arXiv's papers on it were read into the library (as a turn in Slack may read them)."""
        opened = client.chat_postMessage(channel=channel, text=f"*Checking:* {slack_escape(claim[:200])}")["ts"]
        try:
            checked = self.services.claims.check(claim, arxiv=arxiv)
            read = f"_{slack_escape(checked.trace[0])}_\n" if arxiv else ""
            first, *rest = split_message(read + format_check(checked, self.style))
        except ValueError as error:  # an empty or overlong claim: say what to change
            first, rest = str(error), []
        except Exception:
            log.exception("Slack claim check failed")
            first, rest = SORRY, []
        for piece in [first, *rest]:
            client.chat_postMessage(channel=channel, thread_ts=opened, text=piece)

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
            papers = self.services.library.papers(limit=20)
            lines = [f"• {slack_escape(p.title)}" + (f" <{p.url}|arXiv>" if p.url else "") for p in papers]
            respond("\n".join(lines) or "The library is empty.")
            return
        if verb == "check":  # an empty claim is answered with what to write
            claim = rest.strip()
            arxiv = claim == "--arxiv" or claim.startswith("--arxiv ")
            self.check(client, command["channel_id"], claim.removeprefix("--arxiv").strip(), arxiv)
            return
        if verb not in ("ask", "hypothesize") or not rest.strip():
            respond(f"Unknown command `{verb}`.\n{HELP}")
            return
        opened = client.chat_postMessage(channel=command["channel_id"], text=f"*{rest.strip()[:200]}*")
        self.research(client, command["channel_id"], opened["ts"], rest, mode=verb)
