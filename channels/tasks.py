"""Thin Celery wrappers around channels services: delivery and its two sweeps."""

from __future__ import annotations

from celery import shared_task

from channels import services


@shared_task(name="channels.deliver_message", ignore_result=True, acks_late=True)
def deliver_message(message_id: int) -> str:
    """Deliver one message; safe to run twice (only a queued row is ever sent)."""
    return services.deliver(message_id)


@shared_task(name="channels.dispatch_due", ignore_result=True, expires=55)
def dispatch_due() -> int:
    """Every minute: hand over deferred messages whose time came, and lost enqueues."""
    return services.dispatch_due()


@shared_task(name="channels.requeue_stuck", ignore_result=True, expires=290)
def requeue_stuck() -> int:
    """Every five minutes: queue again what a killed worker left half-sent."""
    return services.requeue_stuck()
