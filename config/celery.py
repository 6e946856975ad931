"""The Celery application: settings come from Django's (``CELERY_*``), tasks from every app."""

import logging
import os

from celery import Celery
from celery.signals import beat_init
from django.core import checks

from config import queues

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("omnicrm", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
checks.register(queues.check_visibility_timeout)

logger = logging.getLogger("config.celery")


@beat_init.connect
def log_schedule(sender, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Say at start which periodic tasks this beat will run, so an operator sees it works."""
    schedule = sender.scheduler.schedule
    logger.info("beat schedule: %d periodic task(s)", len(schedule))
    for name, entry in sorted(schedule.items()):
        every = " ".join(str(entry.schedule).split())  # crontab reprs span several lines
        logger.info("beat schedule: %s -> %s, %s", name, entry.task, every)
