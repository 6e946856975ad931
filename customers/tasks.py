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
