import json

import factory
from django.utils import timezone

from channels.models import Channel, Message, Template
from customers.consents import ADDRESS_KIND
from tests.customers.factories import CustomerFactory, IdentityFactory


class ChannelFactory(factory.django.DjangoModelFactory):
    """An email channel on the in-memory backend, with a webhook secret."""

    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"channel-{n}")
    kind = Channel.Kind.EMAIL
    backend = "channels.backends.locmem.LocmemBackend"
    sender = "shop@example.com"
    webhook_secret = factory.Sequence(lambda n: f"whsec-{n}-s3cret")


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Template

    key = factory.Sequence(lambda n: f"template-{n}")
    kind = Channel.Kind.EMAIL
    locale = "en"
    subject = "Hello {{ customer.first_name }}"
    text = "Hello {{ customer.first_name }}"


def _address_value(kind, n):
    if kind == "phone":
        return f"+98912{n:07d}"
    if kind == "email":
        return f"reader{n}@example.org"
    return f"{kind}-{n}"


class MessageFactory(factory.django.DjangoModelFactory):
    """A marketing message already sent on ``channel`` to an address of the customer, an
    identity of the kind that channel uses (email, or phone for SMS/WhatsApp)."""

    class Meta:
        model = Message

    customer = factory.SubFactory(CustomerFactory)
    channel = factory.SubFactory(ChannelFactory)
    kind = factory.SelfAttribute("channel.kind")
    address = factory.LazyAttributeSequence(
        lambda o, n: IdentityFactory(
            customer=o.customer,
            kind=ADDRESS_KIND[o.kind],
            value=_address_value(ADDRESS_KIND[o.kind], n),
        )
    )
    to = factory.LazyAttribute(lambda o: o.address.value if o.address else "")
    purpose = Message.Purpose.MARKETING
    intent = "campaign"
    idempotency_key = factory.Sequence(lambda n: f"test:{n}")
    subject = "Spring sale"
    text = "Our spring sale starts today."
    html = '<p><a href="https://shop.example.com/sale">Sale</a></p>'
    links = factory.LazyFunction(lambda: ["https://shop.example.com/sale"])
    status = Message.Status.SENT
    provider_id = factory.Sequence(lambda n: f"prov-{n}")
    sent_at = factory.LazyFunction(timezone.now)


def channel_form(channel, **changes):
    """The admin change form's POST data for ``channel`` as it stands, with ``changes``."""
    data = {
        "name": channel.name,
        "kind": channel.kind,
        "backend": channel.backend,
        "settings": json.dumps(channel.public_settings),
        "sender": channel.sender,
        "rate_limit": channel.rate_limit,
        "priority": channel.priority,
        "window_start": "",
        "window_end": "",
        "webhook_secret": "",
        "active": "on",
    }
    data.update(changes)
    return data
