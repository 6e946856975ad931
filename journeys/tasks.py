"""Thin Celery wrappers around the journey engine, run by beat every minute."""

from __future__ import annotations

from celery import shared_task

from journeys import engine, stock


@shared_task(name="journeys.advance_due", ignore_result=True, expires=55)
def advance_due() -> int:
    """Advance due enrollments, batch after batch, for up to ~45 s (then the next beat tick
    goes on); each batch is its own transaction."""
    return engine.advance_for(seconds=45)


@shared_task(name="journeys.notify_restocks", ignore_result=True, expires=55)
def notify_restocks() -> int:
    """Back in stock: enroll the next batch of alerts of each product that came back."""
    return stock.notify_restocks()
