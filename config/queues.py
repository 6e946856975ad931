"""The broker queues, one per kind of work, and the router that puts each task on its queue.

Every queue name starts with a prefix, the default queue's name (``CELERY_TASK_DEFAULT_QUEUE``,
"celery" unless set): ``<prefix>.ingest``, ``<prefix>.delivery.email``, … Two deployments (or
two test processes, or a benchmark) on one broker never take each other's tasks, and a worker
started without ``-Q`` consumes every queue of its prefix (``CELERY_TASK_QUEUES``). An operator
who wants a worker per kind of work starts it with ``-Q <prefix>.delivery.sms`` and so on
(docs/operations.md, "Queues").

Delivery is split by channel kind, so a slow SMS gateway never holds up email: the queue is
chosen when the message is enqueued (``channels.services.enqueue_many`` passes ``queue=``),
since a task carries only message ids. The router below covers every other task by its name.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from kombu import Queue

INGEST = "ingest"  # work that follows tracked events (reactors moved off the request)
DELIVERY_EMAIL = "delivery.email"
DELIVERY_SMS = "delivery.sms"
DELIVERY_PUSH = "delivery.push"
DELIVERY_MESSENGER = "delivery.messenger"  # WhatsApp, Telegram, signed webhooks
DELIVERY_OTHER = "delivery.other"
SWEEPS = "sweeps"  # beat's periodic tasks: short, bounded batches
CAMPAIGNS = "campaigns"  # a campaign run's start and its chunk chains

WORK: tuple[str, ...] = (
    INGEST,
    DELIVERY_EMAIL,
    DELIVERY_SMS,
    DELIVERY_PUSH,
    DELIVERY_MESSENGER,
    DELIVERY_OTHER,
    SWEEPS,
    CAMPAIGNS,
)

# A message's channel kind → its delivery queue; any other kind goes to DELIVERY_OTHER.
DELIVERY_BY_KIND: Mapping[str, str] = {
    "email": DELIVERY_EMAIL,
    "sms": DELIVERY_SMS,
    "push": DELIVERY_PUSH,
    "whatsapp": DELIVERY_MESSENGER,
    "telegram": DELIVERY_MESSENGER,
    "instagram": DELIVERY_MESSENGER,
    "chat": DELIVERY_MESSENGER,
    "webhook": DELIVERY_MESSENGER,
}

# Each task of the project by its explicit name (tests/test_queues.py checks none is missing).
TASKS: Mapping[str, str] = {
    # Enqueued with queue= by message kind; this is only where one without it would go.
    "channels.deliver_message": DELIVERY_OTHER,
    "channels.deliver_messages": DELIVERY_OTHER,
    "commerce.send_alert_confirmation": DELIVERY_EMAIL,  # Django mail, not a channel
    "customers.heartbeat": SWEEPS,
    "channels.dispatch_due": SWEEPS,
    "channels.requeue_stuck": SWEEPS,
    "channels.sweep_verification_codes": SWEEPS,
    "journeys.advance_due": SWEEPS,
    "journeys.notify_restocks": SWEEPS,
    "campaigns.requeue_stalled": SWEEPS,
    "campaigns.start_run": CAMPAIGNS,
    "campaigns.send_chunk": CAMPAIGNS,
}
# A task not named above that beat runs (config/schedules.py) is a sweep; any other goes by
# its app: event processing is ingest.
APPS: Mapping[str, str] = {
    "customers": INGEST,
    "channels": INGEST,
    "commerce": INGEST,
    "journeys": SWEEPS,
    "campaigns": CAMPAIGNS,
    "insights": SWEEPS,
    "security": SWEEPS,
}


def name(work: str, prefix: str | None = None) -> str:
    """The queue of one kind of work (``WORK``) under ``prefix`` (default: the app's)."""
    return f"{prefix or _prefix()}.{work}"


def names(prefix: str) -> list[str]:
    """Every queue a worker of this prefix consumes: the default queue itself (for tasks that
    are not ours, such as Celery's own), then one per kind of work."""
    return [prefix, *(name(work, prefix) for work in WORK)]


def declare(prefix: str) -> tuple[Queue, ...]:
    """``task_queues`` for a prefix: a worker without ``-Q`` consumes all of them."""
    return tuple(Queue(queue, routing_key=queue) for queue in names(prefix))


def delivery(kind: str, prefix: str | None = None) -> str:
    """The delivery queue of messages of this channel kind."""
    return name(DELIVERY_BY_KIND.get(kind, DELIVERY_OTHER), prefix)


def work_of(task_name: str) -> str | None:
    """Which kind of work a task is, by its name; None for a task that is not ours."""
    if task_name in TASKS:
        return TASKS[task_name]
    if task_name in _scheduled():
        return SWEEPS
    return APPS.get(task_name.partition(".")[0])


@functools.cache
def _scheduled() -> frozenset[str]:
    from config.schedules import DEFAULT_SCHEDULES

    return frozenset(schedule["task"] for schedule in DEFAULT_SCHEDULES)


def route(
    task_name: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    options: Mapping[str, Any],
    task: Any = None,
    **extra: Any,
) -> dict[str, str] | None:
    """Celery router (``CELERY_TASK_ROUTES``): our tasks to their queue; an explicit
    ``queue=`` of the caller wins (Celery merges it over this answer)."""
    work = work_of(task_name)
    if work is None:
        return None  # the default queue
    app = getattr(task, "app", None)
    return {"queue": name(work, app.conf.task_default_queue if app else None)}


def _prefix() -> str:
    from celery import current_app

    return str(current_app.conf.task_default_queue)


def longest_countdown() -> int:
    """The longest a task waits in a worker's hands before it runs (countdown or ETA), in
    seconds: a delivery's last back-off (channels.services._retry_or_fail), a throttled
    campaign's next chunk (60 s), Celery's autoretry back-off (retry_backoff_max, 600 s)."""
    from django.conf import settings

    last_retry = settings.DELIVERY_RETRY_BASE_SECONDS * 2 ** max(
        settings.DELIVERY_MAX_ATTEMPTS - 2, 0
    )
    return max(last_retry, 60, 600)


def check_visibility_timeout(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Warn when Redis would hand a waiting task to a second worker: a countdown longer than
    the broker's visibility timeout makes Redis think the first worker died."""
    from django.conf import settings
    from django.core import checks

    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://", "sentinel://")):
        return []
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    if int(timeout) > longest_countdown():
        return []
    return [
        checks.Warning(
            f"CELERY_VISIBILITY_TIMEOUT ({timeout} s) is not longer than the longest task "
            f"countdown ({longest_countdown()} s): Redis would give such a task to a second "
            "worker while the first still waits for its time.",
            hint="Raise CELERY_VISIBILITY_TIMEOUT, or lower DELIVERY_RETRY_BASE_SECONDS.",
            id="config.W001",
        )
    ]
