"""Readiness checks: the database, the Celery broker and beat's heartbeat. Each returns a
``Check``; none raises, whatever is down."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from customers.tasks import HEARTBEAT_KEY

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


@dataclass
class Check:
    ok: bool
    code: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self, seconds: float) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "ms": round(seconds * 1000, 1), **self.details}
        if not self.ok:
            body.update(code=self.code, message=self.message)
        return body


def database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return Check(True)


def broker() -> Check:
    """Connect to the broker the workers use (same URL, transport and options as Celery), with
    a short timeout and no retry. Redis is pinged; filesystem:// needs its folders."""
    from kombu import Connection

    options = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
        "max_retries": 0,
    }
    with Connection(
        settings.CELERY_BROKER_URL,
        transport=getattr(settings, "CELERY_BROKER_TRANSPORT", None),
        transport_options=options,
        connect_timeout=BROKER_TIMEOUT_SECONDS,
    ) as conn:
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
        channel = conn.channel()  # Redis: a PING; AMQP: a channel open
        channel.close()
        return Check(True, details={"transport": conn.transport.driver_type})


def heartbeat() -> Check:
    """Beat schedules the heartbeat every 60 s and a worker writes it: too old or missing
    means beat or every worker is down."""
    max_age = settings.READYZ_HEARTBEAT_MAX_AGE
    value = cache.get(HEARTBEAT_KEY)
    if value is None:
        return Check(
            False,
            "heartbeat_missing",
            _("No beat heartbeat recorded: is celery beat running, with a worker?"),
        )
    try:
        beat = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return Check(False, "heartbeat_invalid", _("The beat heartbeat is not a time."))
    if timezone.is_naive(beat):
        beat = timezone.make_aware(beat, dt.UTC)
    age = (timezone.now() - beat).total_seconds()
    details = {"age_seconds": round(age, 1), "max_age_seconds": max_age}
    if age > max_age:
        return Check(
            False,
            "heartbeat_stale",
            _("The last beat heartbeat is %(age)d s old (more than %(max)d s).")
            % {"age": age, "max": max_age},
            details,
        )
    return Check(True, details=details)


CHECKS: dict[str, Callable[[], Check]] = {
    "database": database,
    "broker": broker,
    "heartbeat": heartbeat,
}
# A failing check says which kind of error; the error itself (host names, paths) goes to the
# log only, since anyone may call the probe.
FAILURES = {
    "database": ("database_unavailable", _lazy("The database did not answer")),
    "broker": ("broker_unavailable", _lazy("The Celery broker did not answer")),
    "heartbeat": ("heartbeat_unreadable", _lazy("The cache holding the heartbeat did not answer")),
}


def run(names: list[str]) -> dict[str, dict[str, Any]]:
    """Each named check's result as JSON; an exception is that check's failure."""
    results = {}
    for name in names:
        started = time.perf_counter()
        try:
            result = CHECKS[name]()
        except Exception as error:  # a probe reports, it never fails
            logger.warning("readyz: %s check failed", name, exc_info=True)
            code, message = FAILURES[name]
            result = Check(False, code, f"{message} ({type(error).__name__}).")
        results[name] = result.as_json(time.perf_counter() - started)
    return results
