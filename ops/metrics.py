"""Prometheus metrics: counters the web processes keep, and gauges read from the database at
scrape time (right whatever the number of processes).

With ``PROMETHEUS_MULTIPROC_DIR`` set (before this module is first imported, as ``make serve``
does) prometheus_client keeps the counters in files there, one per process, and a scrape adds
them up; without it they live in this process alone (``manage.py runserver``, tests).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponseBase
from django.urls import ResolverMatch
from django.utils import timezone
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# The classic text format every Prometheus server reads (2.x and 3.x).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
disable_created_metrics()  # no *_created series: Prometheus has no use for them here
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "crm_http_requests",
    "HTTP requests answered, by method, route (URL name) and status class.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "crm_http_request_duration_seconds",
    "Time from the first middleware to the response, by route (URL name).",
    ["route"],
)
INGEST_ACCEPTED = Counter(
    "crm_ingest_events_accepted",
    "Tracking API events accepted, by call (identify, track, page, ..., batch).",
    ["call"],
)
INGEST_REJECTED = Counter(
    "crm_ingest_events_rejected",
    "Tracking API events refused inside an accepted batch, by call.",
    ["call"],
)


def route_of(match: ResolverMatch | None) -> str:
    """The route label: the URL's name (``api:customer``), its pattern when unnamed, or
    ``unmatched`` when no URL matched. Bounded by the URL table, never by what clients send."""
    if match is None:
        return "unmatched"
    if match.url_name:
        return match.view_name
    return match.route or "unnamed"


def observe_request(request: HttpRequest, response: HttpResponseBase, seconds: float) -> None:
    match = getattr(request, "resolver_match", None)
    route = route_of(match)
    method = request.method if request.method in _METHODS else "other"
    HTTP_REQUESTS.labels(method, route, f"{response.status_code // 100}xx").inc()
    HTTP_DURATION.labels(route).observe(seconds)
    if match is not None and match.namespace == "ingest" and response.status_code == 200:
        _observe_ingest(match.url_name or "", response)


def _observe_ingest(call: str, response: HttpResponseBase) -> None:
    """Read the tracking API's own answer: a batch says how many it accepted and rejected; a
    single call answered 200 accepted its event (a replayed messageId is answered alike)."""
    data = getattr(response, "data", None)
    if not isinstance(data, dict):
        return
    if call == "batch":
        accepted = data.get("accepted")
        rejected = data.get("rejected")
        if isinstance(accepted, int) and accepted > 0:
            INGEST_ACCEPTED.labels(call).inc(accepted)
        if isinstance(rejected, list) and rejected:
            INGEST_REJECTED.labels(call).inc(len(rejected))
    elif data.get("success") is True:
        INGEST_ACCEPTED.labels(call).inc()


# --- Scrape-time gauges ----------------------------------------------------------------------


class DatabaseCollector(Collector):
    """Messages by status, queue lag, due enrollments and sending campaign runs: four queries
    per scrape, whatever the size of the tables."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "crm_metrics_source_up",
            "1 when the scrape could read this source (database, Redis broker), 0 when not.",
            labels=["source"],
        )
        try:
            gauges = list(self._database())
        except Exception:  # a scrape never fails because the database does
            logger.warning("metrics: the database could not be read", exc_info=True)
            up.add_metric(["database"], 0)
        else:
            up.add_metric(["database"], 1)
            yield from gauges
        queues = celery_queue_lengths()
        if queues is not None:
            up.add_metric(["broker"], 1 if queues else 0)
            if queues:
                lengths = GaugeMetricFamily(
                    "crm_celery_queue_length",
                    "Tasks waiting in each Celery queue (Redis broker).",
                    labels=["queue"],
                )
                for name, length in sorted(queues.items()):
                    lengths.add_metric([name], length)
                yield lengths
        yield up

    @staticmethod
    def _database() -> Iterator[Metric]:
        from campaigns.models import CampaignRun
        from channels.models import Message
        from journeys.models import Enrollment

        now = timezone.now()
        counts = dict(Message.objects.order_by().values_list("status").annotate(n=Count("pk")))
        messages = GaugeMetricFamily(
            "crm_messages", "Outbound messages by status (channels.Message).", labels=["status"]
        )
        for status in Message.Status.values:
            messages.add_metric([status], counts.get(status, 0))
        yield messages
        # Queued and due: deferred ones whose time came, and the others since they were queued
        # (the rows channels.services.dispatch_due hands over).
        oldest = Message.objects.filter(status=Message.Status.QUEUED).aggregate(
            deferred=Min("not_before", filter=Q(not_before__lte=now)),
            undeferred=Min("updated_at", filter=Q(not_before__isnull=True)),
        )
        times = [t for t in oldest.values() if t is not None]
        yield GaugeMetricFamily(
            "crm_queue_oldest_due_message_age_seconds",
            "Age of the oldest queued message that is due (0 when none waits).",
            value=max(0.0, (now - min(times)).total_seconds()) if times else 0.0,
        )
        # The journey sweep's "due" (journeys.engine.advance_due; index journeys_enrollment_due).
        due = Enrollment.objects.filter(
            status=Enrollment.Status.ACTIVE, next_run_at__lte=now
        ).count()
        yield GaugeMetricFamily(
            "crm_journey_enrollments_due",
            "Active journey enrollments whose next step is due now.",
            value=due,
        )
        sending = CampaignRun.objects.filter(status=CampaignRun.Status.SENDING).count()
        yield GaugeMetricFamily(
            "crm_campaign_runs_sending", "Campaign runs sending now.", value=sending
        )


def celery_queue_names() -> list[str]:
    """The default queue and every queue the task routes or queue settings name, read now
    (an operator may split work onto more queues)."""
    names = {settings.CELERY_TASK_DEFAULT_QUEUE}
    routes: Any = getattr(settings, "CELERY_TASK_ROUTES", None) or ()
    for table in routes if isinstance(routes, list | tuple) else [routes]:
        if isinstance(table, dict):
            names.update(_route_queue(route) for route in table.values())
        elif isinstance(table, list | tuple) and len(table) == 2:  # ("pattern", route)
            names.add(_route_queue(table[1]))
    for queue in getattr(settings, "CELERY_TASK_QUEUES", None) or ():
        names.add(getattr(queue, "name", None) or (queue if isinstance(queue, str) else None))
    return sorted(name for name in names if name)


def _route_queue(route: Any) -> str | None:
    if isinstance(route, str):
        return route
    if isinstance(route, dict):
        queue = route.get("queue")
        return getattr(queue, "name", None) or (queue if isinstance(queue, str) else None)
    return None


# kombu's Redis transport keeps a queue in a list of that name, and prioritised messages in
# lists suffixed with this separator and the priority step.
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def celery_queue_lengths() -> dict[str, int] | None:
    """LLEN of each Celery queue on a Redis broker; None for other brokers, {} when Redis does
    not answer."""
    url = settings.CELERY_BROKER_URL.split(";")[0].strip()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    names = celery_queue_names()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.llen(name)
                for step in _PRIORITY_STEPS:
                    pipe.llen(f"{name}{_PRIORITY_SEP}{step}")
            replies = pipe.execute()
        finally:
            client.close()
    except Exception:
        logger.warning("metrics: the Redis broker could not be read", exc_info=True)
        return {}
    per_queue = 1 + len(_PRIORITY_STEPS)
    return {name: sum(replies[i * per_queue : (i + 1) * per_queue]) for i, name in enumerate(names)}


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def render() -> bytes:
    """The text exposition of every metric: this process's (or every process's, in
    multiprocess mode) counters, then the gauges read now."""
    started = time.perf_counter()
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(DatabaseCollector())
    if multiprocess_dir():
        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
        parts: Iterable[bytes] = (generate_latest(counters), generate_latest(scrape))
    else:
        parts = (generate_latest(REGISTRY), generate_latest(scrape))
    body = b"".join(parts)
    logger.debug("metrics rendered in %.3f s", time.perf_counter() - started)
    return body
