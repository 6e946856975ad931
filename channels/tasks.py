"""Thin Celery wrappers around channels services: delivery and its two sweeps."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from channels import services

logger = logging.getLogger(__name__)


@shared_task(
    name="channels.deliver_message",
    ignore_result=True,
    acks_late=True,
    # The database was unreachable or locked: nothing was sent (the row stays queued), so
    # trying again shortly is safe.
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def deliver_message(message_id: int) -> str:
    """Deliver one message; safe to run twice (only a queued row is ever sent)."""
    return services.deliver(message_id)


@shared_task(
    name="channels.deliver_messages",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def deliver_messages(message_ids: list[int]) -> dict[str, int]:
    """Deliver a fan-out's chunk in one batch (a few queries for the lot, each message still
    decided and recorded on its own); what a failure leaves queued, the sweep hands over."""
    counts: dict[str, int] = {}
    for outcome in services.deliver_many(message_ids).values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@shared_task(name="channels.dispatch_due", ignore_result=True, expires=55)
def dispatch_due() -> int:
    """Every minute: hand over deferred messages whose time came, and lost enqueues."""
    return services.dispatch_due()


@shared_task(name="channels.requeue_stuck", ignore_result=True, expires=290)
def requeue_stuck() -> int:
    """Every five minutes: queue again what a killed worker left half-sent."""
    return services.requeue_stuck()


@shared_task(name="channels.sweep_verification_codes", ignore_result=True, expires=3500)
def sweep_verification_codes() -> int:
    """Every hour: blank expired codes' messages, delete codes expired over a day ago."""
    from channels import verification

    return verification.sweep()
