"""Thin Celery wrappers around customers services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "ops:heartbeat"


@shared_task(name="customers.heartbeat", ignore_result=True)
def heartbeat() -> str:
    """Record that beat scheduled and a worker ran a task just now."""
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_KEY, now, timeout=None)
    logger.info("heartbeat at %s", now)
    return now


@shared_task(name="customers.ensure_partitions", ignore_result=True)
def ensure_partitions() -> list[str]:
    """Create the interaction table's coming monthly partitions and refresh the parent's
    statistics (PostgreSQL; no-op elsewhere)."""
    from customers import partitions

    created = partitions.ensure_ahead(partitions.DEFAULT_AHEAD)
    partitions.analyze()
    if created:
        logger.info("partitions created: %s", ", ".join(created))
    return created
