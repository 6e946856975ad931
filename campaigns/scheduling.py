"""A campaign's schedule lives in django-celery-beat, visible under *Periodic tasks* in the admin:
"at" a time is a one-off clocked task, "recurring" a crontab in the campaign's time zone, and
"now" starts a run as soon as the scheduling commits. Each is one ``PeriodicTask`` named
``campaign:<id>`` that calls ``campaigns.start_run``; unscheduling or cancelling removes it.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from campaigns import lifecycle, runs
from campaigns.models import Campaign
from security import audit


def task_name(campaign: Campaign) -> str:
    return f"campaign:{campaign.pk}"


def schedule(campaign: Campaign, *, by: Any = None) -> Campaign:
    """Check and schedule the campaign (lifecycle's "schedule"), and put it on the beat."""
    with transaction.atomic():
        campaign = lifecycle.move(campaign, "schedule", by=by)
        audit.record(
            audit.Action.CAMPAIGN_SCHEDULE,
            actor=by if getattr(by, "pk", None) else None,
            target=campaign,
            schedule=campaign.schedule,
            send_at=campaign.send_at.isoformat() if campaign.send_at else None,
            crontab=campaign.crontab if campaign.schedule == Campaign.Schedule.RECURRING else "",
        )
        if campaign.schedule == Campaign.Schedule.NOW:
            transaction.on_commit(lambda: _start_now(campaign.pk))
        else:
            _put_on_beat(campaign)
    return campaign


def unschedule(campaign: Campaign, *, by: Any = None) -> Campaign:
    """Back to draft, off the beat."""
    with transaction.atomic():
        campaign = lifecycle.move(campaign, "unschedule", by=by)
        PeriodicTask.objects.filter(name=task_name(campaign)).delete()
    return campaign


def cancel(campaign: Campaign, *, by: Any = None) -> None:
    with transaction.atomic():
        runs.cancel(campaign, by=by)
        PeriodicTask.objects.filter(name=task_name(campaign)).delete()


def _put_on_beat(campaign: Campaign) -> None:
    fields: dict[str, Any] = {
        "task": "campaigns.start_run",
        "args": json.dumps([campaign.pk]),
        "enabled": True,
        "description": f"Campaign “{campaign.name}”",
        "clocked": None,
        "crontab": None,
        "one_off": False,
    }
    if campaign.schedule == Campaign.Schedule.AT:
        assert campaign.send_at is not None
        fields["clocked"], _ = ClockedSchedule.objects.get_or_create(clocked_time=campaign.send_at)
        fields["one_off"] = True
    else:
        minute, hour, day_of_month, month_of_year, day_of_week = campaign.crontab.split()
        fields["crontab"], _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
            timezone=campaign.time_zone,
        )
    PeriodicTask.objects.update_or_create(name=task_name(campaign), defaults=fields)


def _start_now(campaign_id: int) -> None:
    from campaigns.tasks import start_run

    start_run.delay(campaign_id)
