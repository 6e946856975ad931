"""The benchmark's reference task: a Celery task that does nothing but count itself, so the
delivery benchmark can compare a real message's cost with Celery's own per-task cost."""

from celery import shared_task
from django.core.cache import cache

NOOP_COUNTER = "bench:noop"


@shared_task(name="bench.noop", ignore_result=True)
def noop() -> None:
    cache.incr(NOOP_COUNTER)
