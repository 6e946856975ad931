"""The outbound messages' timeline rows: the SQL builder writes what the Python one writes."""

import pytest
from django.contrib.auth.models import User

from channels import timeline
from channels.models import Message
from customers import reactors
from customers.models import Interaction
from tests.channels.factories import ChannelFactory, MessageFactory
from tests.customers.factories import CustomerFactory

FIELDS = [
    "customer_id",
    "source_id",
    "channel",
    "type",
    "direction",
    "name",
    "summary",
    "properties",
    "context",
    "agent_id",
    "message_id",
]


def variety():
    """Messages in the shapes the timeline treats differently."""
    email = ChannelFactory(kind="email")
    sms = ChannelFactory(kind="sms")
    webhook = ChannelFactory(kind="webhook")
    agent = User.objects.create_user("agent")
    return [
        MessageFactory(channel=email, status="queued", subject="سبد خرید شما", intent="cart"),
        MessageFactory(channel=sms, subject="", text="x" * 300, status="sent", purpose="service"),
        MessageFactory(channel=sms, subject="", text="", status="sent"),
        MessageFactory(channel=email, status="suppressed", reason="No consent", rule="consent"),
        MessageFactory(channel=email, status="failed", reason="Mailbox full"),
        MessageFactory(channel=email, status="sent", reason="kept from an old deferral"),
        MessageFactory(channel=webhook, status="sent", agent=agent, to="https://hook"),
    ]


def rows(customer_ids):
    """The rows, by message (the SQL builder writes one status at a time)."""
    found = [
        {field: getattr(row, field) for field in FIELDS}
        for row in Interaction.objects.filter(customer_id__in=customer_ids)
    ]
    return sorted(found, key=lambda row: row["properties"]["message"])


@pytest.mark.django_db
def test_both_builders_write_the_same_rows(postgres_only):
    messages = variety()
    entries = [(m, m.status, {}) for m in messages]
    ids = [m.customer_id for m in messages]

    timeline.write(entries, in_sql=False)
    by_python = rows(ids)
    Interaction.objects.filter(customer_id__in=ids).delete()
    timeline.write(entries, in_sql=True)
    by_sql = rows(ids)

    assert len(by_sql) == len(messages)
    assert by_sql == by_python


@pytest.mark.django_db
def test_a_merged_customers_row_lands_on_the_survivor(postgres_only):
    message = MessageFactory(status="sent")
    survivor = CustomerFactory()
    message.customer.merged_into = survivor
    message.customer.save(update_fields=["merged_into"])
    timeline.write([(message, "sent", {})], in_sql=True)
    assert Interaction.objects.get(properties__message=message.pk).customer_id == survivor.pk


@pytest.mark.django_db
def test_a_reactor_listening_to_message_events_still_sees_each_row():
    seen = []
    reactors.register(
        lambda row: seen.append(row.name), order=90, name="test.sent", events={"Message Sent"}
    )
    try:
        messages = [MessageFactory(status="sent") for _ in range(3)]
        queued = MessageFactory(status="queued")
        timeline.write([(m, m.status, {}) for m in [*messages, queued]])
    finally:
        reactors.unregister("test.sent")
    assert seen == ["Message Sent"] * 3
    assert Interaction.objects.filter(name="Message Queued").count() == 1
    assert Message.objects.count() == 4
