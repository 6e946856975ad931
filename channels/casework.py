"""Where outbound messaging meets support cases (customers/cases.py): the satisfaction request
sent when a case is resolved, and an agent's message counted as the case's response.

``customers`` imports no other app of ours, so it cannot send; ChannelsConfig.ready() registers
``request_csat`` as its sender.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from channels import services
from channels.models import Message
from customers import cases
from customers.models import Case, Customer, Interaction

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

CSAT_TEMPLATE = "case-csat"
# Channels a satisfaction request may go out on, best first; the case's own goes first when it
# is one of them (a customer who wrote by email is asked by email).
CSAT_KINDS = ("sms", "email")


def csat_key(case: Case) -> str:
    return f"case-csat:{case.pk}"


def request_csat(case: Case) -> cases.CsatRequest:
    """Queue the "case-csat" message (transactional) on the customer's best reachable channel;
    once per case (idempotency key ``case-csat:<id>``). Not sent: the reason for each channel.
    The queued message's timeline row joins the case."""
    kinds = [case.channel] if case.channel in CSAT_KINDS else []
    kinds += [kind for kind in CSAT_KINDS if kind not in kinds]
    message = services.send(
        case.customer,
        purpose=Message.Purpose.TRANSACTIONAL,
        template=CSAT_TEMPLATE,
        channels=kinds,
        idempotency_key=csat_key(case),
        context={"case": case, "case_subject": case.subject},
    )
    if message.status == Message.Status.SUPPRESSED:
        return cases.CsatRequest(False, channel=message.kind, reason=message.reason)
    _rows_of(message).filter(case__isnull=True).update(case=case)
    return cases.CsatRequest(True, channel=message.kind)


def _rows_of(message: Message) -> Any:
    return Interaction.objects.filter(
        customer_id=message.customer_id,
        type=Interaction.Type.MESSAGE,
        direction=Interaction.Direction.OUTBOUND,
        properties__message=message.pk,
    )


def send_agent_message(customer: Customer, *, agent: AbstractBaseUser, **request: Any) -> Message:
    """``services.send`` for an agent's one-off message, and the answer to the customer's
    newest unresolved case: its first response (once), "waiting" on the customer, the
    message's timeline row on the case. A message held back (suppressed) answered nobody and
    changes no case; a repeated submit (same idempotency key) changes nothing either."""
    with transaction.atomic():
        message = services.send(customer, agent=agent, **request)
        if message.status != Message.Status.SUPPRESSED:
            row = _rows_of(message).order_by("pk").first()
            if row is not None and row.case_id is None:
                cases.note_response(row, agent=agent, waiting=True)
        return message
