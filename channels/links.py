"""Signed links in outbound messages: unsubscribe, preference center, open pixel, click redirect.

Every token is signed with SECRET_KEY and a salt of its own, so a token of one kind never works
as another, and nobody can forge one for somebody else's message or profile. Unsubscribe and
preference tokens do not expire (an old email must still let its reader opt out); an unsubscribe
token names the message by its idempotency key, so a template can carry it before the row
exists. Open and click
tokens name a message and, for clicks, the index of a URL that was in it — the redirect only
ever goes to a URL the message carried.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing

from customers.links import link

if TYPE_CHECKING:
    from channels.models import Message

UNSUBSCRIBE_SALT = "channels.unsubscribe"
PREFERENCES_SALT = "channels.preferences"
OPEN_SALT = "channels.open"
CLICK_SALT = "channels.click"

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def unsubscribe_token(message: Message) -> str:
    # By idempotency key, which exists before the row: templates render the link up front.
    return signing.dumps({"k": message.idempotency_key}, salt=UNSUBSCRIBE_SALT, compress=True)


def preferences_token(customer_public_id: Any) -> str:
    return signing.dumps({"c": str(customer_public_id)}, salt=PREFERENCES_SALT, compress=True)


def unsubscribe_url(message: Message) -> str:
    return link("channels:unsubscribe", unsubscribe_token(message))


def preferences_url(customer_public_id: Any) -> str:
    return link("channels:preferences", preferences_token(customer_public_id))


def open_url(message: Message) -> str:
    token = signing.dumps({"m": message.pk}, salt=OPEN_SALT, compress=True)
    return link("channels:open", token)


def click_url(message: Message, index: int) -> str:
    token = signing.dumps({"m": message.pk, "l": index}, salt=CLICK_SALT, compress=True)
    return link("channels:click", token)


def read(token: str, salt: str) -> dict[str, Any] | None:
    """The payload of a token of this kind, or None when it is forged, altered or of another
    kind."""
    try:
        payload = signing.loads(token, salt=salt)
    except signing.BadSignature:
        return None
    return payload if isinstance(payload, dict) else None


def extract_links(html: str) -> list[str]:
    """The http(s) URLs of the message's anchors, in order, once each."""
    seen: list[str] = []
    for match in _HREF.finditer(html or ""):
        if match.group(3) not in seen:
            seen.append(match.group(3))
    return seen


def tracked_html(message: Message) -> str:
    """The message's HTML with each known link sent through the click redirect and an open
    pixel at the end."""
    if not message.html:
        return ""
    index = {url: i for i, url in enumerate(message.links)}

    def swap(match: re.Match[str]) -> str:
        url = match.group(3)
        if url not in index:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{click_url(message, index[url])}{match.group(2)}"

    html = _HREF.sub(swap, message.html)
    pixel = f'<img src="{open_url(message)}" width="1" height="1" alt="" style="display:none">'
    if "</body>" in html:
        return html.replace("</body>", pixel + "</body>", 1)
    return html + pixel
