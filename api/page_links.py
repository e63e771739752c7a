"""Links to a cited page that open without an API key, for places that cannot send one (a Slack message).

A link names one paper, one page and one quote, and carries an HMAC of them with the operator's secret and an
expiry: it can show that highlighted page and nothing else, and no one without the secret can make another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from urllib.parse import quote as url_quote

from agent.settings import ServiceSettings

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,3000}\.[A-Za-z0-9_-]{43}")  # base64url payload . base64url SHA-256
MAX_LINKED_QUOTE = 400  # characters of the quote a link carries (a URL stays short enough for any client)


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str, secret: str) -> str:
    return _encode(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def page_link(settings: ServiceSettings, paper_id: str, page: int | None, quote: str) -> str | None:
    """The signed address of the page with the quote highlighted; None when links are not configured or the
    citation has no page."""
    if not (settings.public_url and settings.link_secret and page):
        return None
    short = quote if len(quote) <= MAX_LINKED_QUOTE else quote[:MAX_LINKED_QUOTE].rsplit(" ", 1)[0]
    expires = int(time.time()) + settings.link_days * 86400
    payload = _encode(json.dumps([paper_id, page, short, expires], ensure_ascii=False).encode())
    token = f"{payload}.{_signature(payload, settings.link_secret)}"
    return f"{settings.public_url.rstrip('/')}/v1/shared/pages/{url_quote(token)}.png"


def read_link(token: str, secret: str) -> tuple[str, int, str]:
    """(paper id, page, quote) of a link this service signed and that has not expired; ValueError otherwise."""
    if not _TOKEN.fullmatch(token):
        raise ValueError("this page link is not valid")
    payload, _, signature = token.partition(".")
    if not secret or not hmac.compare_digest(signature.encode(), _signature(payload, secret).encode()):
        raise ValueError("this page link is not valid")
    try:
        paper_id, page, quote, expires = json.loads(_decode(payload))
    except (ValueError, TypeError) as error:
        raise ValueError("this page link is not valid") from error
    if expires < time.time():
        raise ValueError("this page link has expired; ask again for a fresh one")
    return str(paper_id), int(page), str(quote)
