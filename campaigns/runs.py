"""Running a campaign: materialise its audience, hold some out, fan out in chunks.

``start`` makes a ``CampaignRun`` whose audience is written as ``Recipient`` rows by one
``INSERT … SELECT`` of the segment's query (the database does it; no customer passes through
Python), marks the hold-out share at random, and queues the fan-out. ``send_chunk`` claims the
next waiting recipients in customer order after its chain's place (``after``) with ``SKIP
LOCKED``, hands them to the outbox with ``send_many`` under ``campaign:<run>:<customer>`` and
marks them, in one transaction; then it queues itself again from the last customer it claimed
(at once, or a minute later under a throttle). ``CAMPAIGN_FANOUT_CHAINS`` such chains run side by
side, so every worker process can take part. Pause and cancel are read at every chunk. A chain
that reaches the end looks once more from the start, for recipients a failed chunk left behind;
a worker killed mid-chunk leaves its recipients waiting, and the idempotency keys make the
retried chunk send nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from celery.schedules import crontab
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from campaigns import lifecycle, segments
from campaigns.models import Campaign, CampaignRun, Recipient
from channels import services as outbox
from channels.models import Message
from customers.bulk import commit_without_waiting, update_rows
from customers.models import Customer

logger = logging.getLogger(__name__)

CHUNK = 500


def start(campaign: Campaign, *, now: dt.datetime | None = None) -> CampaignRun | None:
    """Begin a run of a scheduled campaign (beat calls this at its time); None when the
    campaign is no longer scheduled (cancelled or unscheduled meanwhile)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().select_related("segment").get(pk=campaign.pk)
        if locked.status != Campaign.Status.SCHEDULED or _occurrence_ran(locked, now):
            return None
        run = CampaignRun.objects.create(campaign=locked, started_at=now)
        # The run's number: a note in no language, so every reader's history reads it.
        lifecycle.move(locked, "start", note=f"#{run.pk}")
        run.audience = _materialise(run, locked, now)
        run.holdout = _hold_out(run, locked.holdout_percent)
        _know_the_run()
        run.save(update_fields=["audience", "holdout"])
        for _ in range(_chains(locked)):
            transaction.on_commit(lambda: _queue(run.pk))
    logger.info("campaigns.run_started run=%s audience=%s", run.pk, run.audience)
    return run


def _occurrence_ran(campaign: Campaign, now: dt.datetime) -> bool:
    """Whether a recurring campaign already ran for the latest occurrence of its recurrence: a
    second beat (by mistake) fires the same crontab too, and its start, waiting on the lock
    above, may come after the first run finished and the campaign went back to "scheduled"."""
    if campaign.schedule != Campaign.Schedule.RECURRING:
        return False  # a one-off leaves "scheduled" for good when it starts
    latest = campaign.runs.order_by("-started_at").values_list("started_at", flat=True).first()
    if latest is None:
        return False
    zone = ZoneInfo(campaign.time_zone)
    minute, hour, day_of_month, month_of_year, day_of_week = campaign.crontab.split()
    recurrence = crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        nowfun=lambda: now.astimezone(zone),
    )
    # Due again only when an occurrence came after the latest run's start.
    return not recurrence.is_due(latest.astimezone(zone)).is_due


def _materialise(run: CampaignRun, campaign: Campaign, now: dt.datetime) -> int:
    members = segments.members(campaign.segment, now=now).order_by().values(member=F("pk"))
    sql, params = members.query.sql_with_params()
    table = Recipient._meta.db_table
    with segments.room_to_hash(), connection.cursor() as cursor:
        cursor.execute(
            # Only the segment's compiled query and placeholders; the table is the model's own.
            f"INSERT INTO {table} (run_id, customer_id, status) "
            f"SELECT %s, audience.member, %s FROM ({sql}) AS audience",
            [run.pk, Recipient.Status.PENDING, *params],
        )
        return cursor.rowcount


def _know_the_run() -> None:
    """Fresh statistics of the recipient table, which now holds the run (PostgreSQL samples
    ~30k rows: ~0.2 s at 1M). Without them the planner takes a new run for a few rows, and
    every chunk's claim sorts the whole run (270 ms a chunk at 1M instead of 0.8 ms)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Recipient._meta.db_table}")


def _hold_out(run: CampaignRun, percent: int) -> int:
    """Mark ``percent`` of the audience, chosen at random, as held out; returns how many."""
    size = run.audience * percent // 100
    if not size:
        return 0
    chosen = Recipient.objects.filter(run=run).order_by("?").values_list("pk", flat=True)[:size]
    return Recipient.objects.filter(pk__in=list(chosen)).update(status=Recipient.Status.HELD_OUT)


def _chains(campaign: Campaign) -> int:
    """How many chunk chains fan a run out side by side (``SKIP LOCKED`` keeps them apart);
    one under a throttle, so the per-minute budget holds."""
    return 1 if campaign.throttle_per_minute else max(1, settings.CAMPAIGN_FANOUT_CHAINS)


def _queue(run_id: int, *, after: int = 0, countdown: int = 0) -> None:
    from campaigns.tasks import send_chunk

    send_chunk.apply_async((run_id,), {"after": after} if after else {}, countdown=countdown)


def send_chunk(run_id: int, *, after: int = 0, now: dt.datetime | None = None) -> int:
    """Hand the next chunk of a run's waiting recipients (customers after ``after``, in
    customer order) to the outbox; returns how many. Queues the next chunk, or finishes the
    run when none is left.

    The claim walks the (run, customer) index from the chain's place, so the table needs no
    index of waiting rows of its own (one index fewer for every row a run writes)."""
    now = now or timezone.now()
    with transaction.atomic():
        # Not locked: the chains of a run work side by side; pause and cancel show at the next
        # chunk, and the finish below locks the run.
        run = CampaignRun.objects.select_related("campaign").filter(pk=run_id).first()
        if run is None or run.status != CampaignRun.Status.SENDING:
            return 0  # paused or cancelled (resume queues it again), or deleted
        campaign = run.campaign
        size = min(CHUNK, campaign.throttle_per_minute or CHUNK)
        chosen = list(
            Recipient.objects.select_for_update(skip_locked=True)
            .filter(run=run, status=Recipient.Status.PENDING, customer_id__gt=after)
            .order_by("customer_id")
            .values_list("pk", "customer_id")[:size]
        )
        if chosen:
            commit_without_waiting()
        if not chosen:
            if after:
                # Behind this chain's place, a chunk that failed may have left recipients
                # waiting: one more pass from the start finds them, or finishes the run.
                transaction.on_commit(lambda: _queue(run_id))
                return 0
            # Rows another chain holds are still waiting (their change is not visible yet):
            # that chain finishes the run.
            if not Recipient.objects.filter(run=run, status=Recipient.Status.PENDING).exists():
                _finish(run, now)
            return 0
        people = Customer.objects.in_bulk([customer for _, customer in chosen])
        context = {}
        if campaign.window_start is not None and campaign.window_end is not None:
            # Delivery's send-window rule reads it from the message (channels.policy).
            context["send_window"] = f"{campaign.window_start:%H:%M}-{campaign.window_end:%H:%M}"
        messages = outbox.send_many(
            [
                outbox.Request(
                    customer=people[customer],
                    purpose=Message.Purpose.MARKETING,
                    idempotency_key=f"campaign:{run.pk}:{customer}",
                    channels=list(campaign.channels),
                    template=campaign.template_key,
                    intent="campaign",
                    context=context,
                )
                for _, customer in chosen
            ]
        )
        handed = [
            Recipient(pk=pk, status=Recipient.Status.HANDED, message=message)
            for (pk, _), message in zip(chosen, messages, strict=True)
        ]
        update_rows(handed, ["status", "message"])
        # Last in the transaction: the run's row is locked only for the commit.
        CampaignRun.objects.filter(pk=run.pk).update(last_chunk_at=now)
        more = len(chosen) == size
        countdown = 60 if campaign.throttle_per_minute and more else 0
        # A short chunk was the last after this place: the next looks from the start.
        last = chosen[-1][1] if more else 0
        transaction.on_commit(lambda: _queue(run_id, after=last, countdown=countdown))
    return len(chosen)


def requeue_stalled(*, now: dt.datetime | None = None) -> int:
    """Queue the chains of sending runs that handed nothing over for CAMPAIGN_STALLED_SECONDS
    but still have recipients waiting (their chain died with a worker). Extra chains are
    harmless: ``SKIP LOCKED`` and the idempotency keys keep every recipient to one message.
    Returns how many runs were restarted."""
    now = now or timezone.now()
    quiet = now - dt.timedelta(seconds=settings.CAMPAIGN_STALLED_SECONDS)
    stalled = list(
        CampaignRun.objects.filter(status=CampaignRun.Status.SENDING)
        .filter(Q(last_chunk_at__lt=quiet) | Q(last_chunk_at=None, started_at__lt=quiet))
        .filter(
            Exists(Recipient.objects.filter(run=OuterRef("pk"), status=Recipient.Status.PENDING))
        )
        .select_related("campaign")
    )
    for run in stalled:
        logger.warning("campaigns.run_stalled run=%s last_chunk_at=%s", run.pk, run.last_chunk_at)
        for _ in range(_chains(run.campaign)):
            _queue(run.pk)
    return len(stalled)


def _finish(run: CampaignRun, now: dt.datetime) -> None:
    run = CampaignRun.objects.select_for_update().select_related("campaign").get(pk=run.pk)
    if run.status != CampaignRun.Status.SENDING:
        return  # another chain finished it, or it was paused or cancelled meanwhile
    run.status, run.finished_at = CampaignRun.Status.DONE, now
    run.save(update_fields=["status", "finished_at"])
    if run.campaign.status == Campaign.Status.SENDING:
        lifecycle.move(run.campaign, "finish", note=f"#{run.pk}")
    logger.info("campaigns.run_done run=%s", run.pk)


def pause(campaign: Campaign, *, by: object = None) -> None:
    with transaction.atomic():
        lifecycle.move(campaign, "pause", by=by)
        CampaignRun.objects.filter(campaign=campaign, status=CampaignRun.Status.SENDING).update(
            status=CampaignRun.Status.PAUSED
        )


def resume(campaign: Campaign, *, by: object = None) -> None:
    with transaction.atomic():
        lifecycle.move(campaign, "resume", by=by)
        runs = list(
            CampaignRun.objects.filter(
                campaign=campaign, status=CampaignRun.Status.PAUSED
            ).values_list("pk", flat=True)
        )
        CampaignRun.objects.filter(pk__in=runs).update(status=CampaignRun.Status.SENDING)
        for run_id in runs:
            for _ in range(_chains(campaign)):
                transaction.on_commit(lambda run_id=run_id: _queue(run_id))


def cancel(campaign: Campaign, *, by: object = None) -> None:
    """Stop for good: waiting recipients stay unsent; messages already queued still go."""
    with transaction.atomic():
        lifecycle.move(campaign, "cancel", by=by)
        CampaignRun.objects.filter(
            campaign=campaign, status__in=[CampaignRun.Status.SENDING, CampaignRun.Status.PAUSED]
        ).update(status=CampaignRun.Status.CANCELLED, finished_at=timezone.now())
