"""Inbound replies from customers: on the timeline, answering our last message, and an opt-out
keyword honoured. The provider webhooks (channels/hooks.py) parse; this records."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from channels import services
from channels.models import Channel, Message
from customers import cases
from customers import services as customers
from customers.consents import ADDRESS_KIND, set_consent
from customers.errors import DomainError
from customers.identity import normalize_identifier, normalize_search_text
from customers.models import ChannelKind, Consent, Customer, Interaction, Source

# A reply within this long of our last message to the address counts as answering it.
REPLY_WINDOW = dt.timedelta(days=14)

# Replies that withdraw marketing consent, whole message only: English, Persian (Iranian
# operators' "لغو11" convention), Arabic and Azerbaijani. Compared after _fold().
OPT_OUT_KEYWORDS = ("STOP", "UNSUBSCRIBE", "لغو", "لغو۱۱", "11", "إلغاء", "dayandır")

_ALEF_VARIANTS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})


# --- Opt-out keywords -------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Caseless, digit- and letter-normalised text without spaces or edge punctuation, so
    "لغو ۱۱", "لغو11", " Stop! " and "DAYANDIR" compare equal to their keyword."""
    folded = normalize_search_text(text).translate(_ALEF_VARIANTS)
    # Azerbaijani dotless ı and dotted İ: "DAYANDIR".casefold() is "dayandir", so fold both.
    folded = folded.replace("ı", "i").replace("\u0307", "")
    folded = "".join(folded.split())
    start, end = 0, len(folded)
    while start < end and unicodedata.category(folded[start]).startswith("P"):
        start += 1
    while end > start and unicodedata.category(folded[end - 1]).startswith("P"):
        end -= 1
    return folded[start:end]


_FOLDED_KEYWORDS = {_fold(keyword): keyword for keyword in OPT_OUT_KEYWORDS}


def opt_out_keyword(text: str) -> str | None:
    """The keyword of OPT_OUT_KEYWORDS this whole reply is, or None (a sentence that merely
    contains "stop" is a conversation, not an opt-out)."""
    return _FOLDED_KEYWORDS.get(_fold(text or ""))


# --- Inbound replies --------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    customer: Customer
    interaction: Interaction
    created: bool
    opted_out: bool
    replied_to: Message | None


def inbound_source(channel: Channel) -> Source:
    """The source that replies on this channel are recorded under. Its (source, message_id)
    unique constraint is what makes a replayed provider id a no-op. Named by the channel's pk,
    so renaming the channel keeps it."""
    source, _created = Source.objects.get_or_create(
        name=f"Channel #{channel.pk} inbound", defaults={"kind": Source.Kind.PROVIDER}
    )
    return source


def receive_reply(channel: Channel, *, sender: str, text: str, provider_id: str) -> Received:
    """Record one inbound message on the sender's timeline (creating the customer when the
    address is new), mark the message it answers as replied, and honour an opt-out keyword.
    Idempotent per provider id: a replay finds its first interaction and changes nothing.
    Raises DomainError("invalid_sender") when the address does not parse for this channel."""
    kind = ADDRESS_KIND.get(channel.kind, channel.kind)
    address = normalize_identifier(kind, sender)
    if address is None:
        raise DomainError("invalid_sender", f"{sender!r} is not a usable {kind}.", status=400)
    source = inbound_source(channel)
    keyword = opt_out_keyword(text)
    since = timezone.now() - REPLY_WINDOW
    replied_to = (
        Message.objects.filter(channel=channel, to=address, sent_at__gte=since)
        .order_by("-sent_at", "-pk")
        .first()
    )
    properties: dict[str, Any] = {
        "provider_id": provider_id,
        "channel": channel.pk,
        "from": address,
        "text": text[:4000],
    }
    if replied_to is not None:
        properties["in_reply_to"] = replied_to.pk
    if keyword is not None:
        properties["opt_out_keyword"] = keyword
    # One unit: the interaction is the replay guard, so an opt-out must never be left behind
    # by a crash after it was written (the provider's retry would then skip it).
    with transaction.atomic():
        customer = customers.resolve({kind: address}, source=source)
        interaction, created = customers.record_interaction(
            customer=customer,
            type=Interaction.Type.MESSAGE,
            channel=channel.kind if channel.kind in ChannelKind.values else ChannelKind.OTHER,
            direction=Interaction.Direction.INBOUND,
            name="Message Received",
            summary=(text.strip() or "—")[:500],
            properties=properties,
            source=source,
            message_id=provider_id,
        )
        if created:
            # A question opens or joins a support case, a 1–5 answers a satisfaction request;
            # "STOP" joins an open case but opens none.
            cases.note_inbound(interaction, may_open=keyword is None)
            if replied_to is not None:
                services.note_engagement(replied_to, "replied")
            if keyword is not None:
                set_consent(
                    customer,
                    channel=channel.kind,
                    purpose=Consent.Purpose.MARKETING,
                    status=Consent.Status.WITHDRAWN,
                    address=address,
                    source=source,
                    wording=text.strip()[:1000],
                    proof={
                        "method": "reply keyword",
                        "keyword": keyword,
                        "provider_id": provider_id,
                    },
                )
    return Received(
        customer=customer,
        interaction=interaction,
        created=created,
        opted_out=keyword is not None,
        replied_to=replied_to,
    )
