"""Thin Celery tasks over campaigns.runs."""

from celery import shared_task

from campaigns import runs
from campaigns.models import Campaign


@shared_task(name="campaigns.start_run", ignore_result=True)
def start_run(campaign_id: int) -> None:
    """Beat's entry for a campaign's schedule (one-off clocked or crontab)."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is not None:
        runs.start(campaign)


@shared_task(name="campaigns.send_chunk", ignore_result=True, acks_late=True)
def send_chunk(run_id: int, after: int = 0) -> None:
    runs.send_chunk(run_id, after=after)


@shared_task(name="campaigns.requeue_stalled", ignore_result=True)
def requeue_stalled() -> None:
    runs.requeue_stalled()
