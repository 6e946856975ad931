"""A campaign's status machine: draft → scheduled → sending → sent, with pause, resume and cancel.

Only the moves in ``MOVES`` exist; each happens under a row lock and leaves a ``CampaignChange``
(who, when, from, to). Scheduling checks that the campaign can be sent at all (a segment, a
channel, content for one of its channels, a time in the future, a valid recurrence) and that a
large audience has someone allowed to approve it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import available_timezones

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns import segments
from campaigns.models import Campaign, CampaignChange
from channels.models import Template
from customers.errors import DomainError
from security import audit

S = Campaign.Status

# (action, from) -> to. "finish" ends a one-off campaign; a recurring one waits for its next run.
MOVES: dict[tuple[str, str], str] = {
    ("schedule", S.DRAFT): S.SCHEDULED,
    ("unschedule", S.SCHEDULED): S.DRAFT,
    ("start", S.SCHEDULED): S.SENDING,
    ("pause", S.SENDING): S.PAUSED,
    ("resume", S.PAUSED): S.SENDING,
    ("finish", S.SENDING): S.SENT,
    ("cancel", S.DRAFT): S.CANCELLED,
    ("cancel", S.SCHEDULED): S.CANCELLED,
    ("cancel", S.SENDING): S.CANCELLED,
    ("cancel", S.PAUSED): S.CANCELLED,
}


def allowed(campaign: Campaign) -> list[str]:
    """The actions the campaign's status allows now (for the admin's buttons)."""
    return [action for action, source in MOVES if source == campaign.status]


def move(campaign: Campaign, action: str, *, by: Any = None, note: str = "") -> Campaign:
    """Apply ``action`` if the campaign's current status allows it; DomainError otherwise.
    Returns the campaign as saved."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        target = MOVES.get((action, locked.status))
        if target is None:
            raise DomainError(
                "not_allowed",
                _("“%(action)s” is not possible for a campaign in status “%(status)s”.")
                % {
                    "status": locked.get_status_display(),
                    "action": ACTION_LABELS.get(action, action),
                },
                status=409,
            )
        check = _CHECKS.get(action)
        if check is not None:
            check(locked, by)
        if action == "finish" and locked.schedule == Campaign.Schedule.RECURRING:
            target = S.SCHEDULED
        CampaignChange.objects.create(
            campaign=locked,
            action=action,
            from_status=locked.status,
            to_status=target,
            by=by if getattr(by, "pk", None) else None,
            note=note[:300],
        )
        locked.status = target
        locked.save(update_fields=["status", "updated_at"])
    campaign.status = locked.status
    return locked


# The moves' names, for messages and the admin's buttons.
ACTION_LABELS = {
    "schedule": gettext_lazy("Schedule"),
    "unschedule": gettext_lazy("Unschedule"),
    "start": gettext_lazy("Start"),
    "pause": gettext_lazy("Pause"),
    "resume": gettext_lazy("Resume"),
    "finish": gettext_lazy("Finish"),
    "cancel": gettext_lazy("Cancel"),
}


def sendable_problems(campaign: Campaign) -> list[str]:
    """Why the campaign cannot be scheduled as it stands ([] when it can)."""
    problems = []
    if not campaign.channels:
        problems.append(_("Choose at least one channel."))
    elif not Template.objects.filter(
        key=campaign.template_key, kind__in=campaign.channels, active=True
    ).exists():
        problems.append(
            _("There is no active template %(key)s for %(channels)s.")
            % {"key": campaign.template_key, "channels": ", ".join(campaign.channels)}
        )
    if campaign.schedule == Campaign.Schedule.AT:
        if campaign.send_at is None or campaign.send_at <= timezone.now():
            problems.append(_("Choose a time in the future."))
    if campaign.schedule == Campaign.Schedule.RECURRING and not valid_crontab(campaign.crontab):
        problems.append(_('The recurrence must be five fields, e.g. "0 10 * * 6".'))
    if campaign.time_zone not in available_timezones():
        problems.append(_("%(zone)s is not a time zone.") % {"zone": campaign.time_zone})
    if (campaign.window_start is None) != (campaign.window_end is None):
        problems.append(_("A send window needs both a start and an end."))
    if campaign.segment.kind == campaign.segment.Kind.DYNAMIC:
        problems.extend(segments.validate(campaign.segment.rules))
    return problems


def _check_schedule(campaign: Campaign, by: Any) -> None:
    problems = sendable_problems(campaign)
    if problems:
        raise DomainError("not_sendable", " ".join(problems))
    limit = settings.CAMPAIGN_APPROVAL_SIZE
    if not limit:
        return
    approver = by is not None and by.has_perm("campaigns.approve_campaign")
    size = segments.count(campaign.segment)
    if size > limit and approver:
        audit.record(
            audit.Action.CAMPAIGN_APPROVE, actor=by, target=campaign, audience=size, limit=limit
        )
    elif size > limit:
        raise DomainError(
            "needs_approval",
            _(
                "This campaign would reach %(size)s customers; over %(limit)s, someone "
                "with the “approve campaign” permission must schedule it."
            )
            % {"size": f"{size:,}", "limit": f"{limit:,}"},
            status=403,
        )


def valid_crontab(text: str) -> bool:
    from celery.schedules import crontab

    fields = text.split()
    if len(fields) != 5:
        return False
    minute, hour, day_of_month, month_of_year, day_of_week = fields  # cron's order
    try:
        crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    except (ValueError, TypeError, KeyError):
        return False
    return True


_CHECKS: dict[str, Callable[[Campaign, Any], None]] = {"schedule": _check_schedule}
