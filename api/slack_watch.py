"""Literature-watch digests posted to a Slack channel (`SLACK_WATCH_CHANNEL`) with slack_sdk's Web API client.
A digest is stored before it is posted, so Slack being down loses nothing: the digest says it was not posted
and stays on the web page and in `scisynth watch digests`."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from agent.settings import Settings
from api.answers import slack_escape
from api.slack_format import split_message
from store.watches import DigestRow, digest_text

log = logging.getLogger(__name__)


def slack_delivery(settings: Settings) -> Callable[[DigestRow], str] | None:
    """A poster for digests when a bot token and a channel are configured, else None."""
    if not (settings.slack.slack_bot_token and settings.slack.slack_watch_channel):
        return None
    slack = settings.slack
    client = WebClient(token=slack.slack_bot_token, base_url=slack.slack_api_url or WebClient.BASE_URL)
    channel = settings.slack.slack_watch_channel

    def post(digest: DigestRow) -> str:
        try:
            for piece in split_message(slack_escape(digest_text(digest))):
                client.chat_postMessage(channel=channel, text=piece, unfurl_links=False, unfurl_media=False)
        except SlackApiError as error:
            reason = error.response.get("error", "an error")
            log.warning("digest %s not posted to Slack: %s", digest.id, reason)
            return f"failed: Slack answered {reason} (check SLACK_WATCH_CHANNEL and the bot's membership)"
        except (SlackClientError, OSError) as error:
            log.warning("digest %s not posted to Slack: %s", digest.id, error)
            return f"failed: Slack could not be reached ({error.__class__.__name__})"
        return "posted"

    return post
