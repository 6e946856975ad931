"""The campaign form of the admin: channels in order of preference without JSON, the send time
read in the campaign's own time zone, a time zone chosen from a list, and the checks a campaign
must pass before it is saved (campaigns/admin/campaign.py uses it)."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from campaigns import lifecycle
from campaigns.models import Campaign
from channels.models import Channel


def campaign_zone(campaign: Campaign) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(campaign.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def channel_choices() -> list[tuple[str, Any]]:
    return list(Channel.Kind.choices)


@cache
def zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in zone_names()]


class ChannelOrderWidget(forms.MultiWidget):
    """One select per place in the order of preference: first choice, second, …"""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        choices = [("", "---------"), *channel_choices()]
        super().__init__([forms.Select(choices=choices) for _ in choices[1:]], attrs)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        for n, subwidget in enumerate(context["widget"]["subwidgets"], 1):
            subwidget["attrs"]["aria-label"] = _("Channel, choice %(n)s") % {"n": n}
        return context

    def render(self, *args: Any, **kwargs: Any) -> SafeString:
        return format_html(
            '<div class="crm-channel-order">{}</div>', super().render(*args, **kwargs)
        )

    def decompress(self, value: Any) -> list[str]:
        kinds = [str(kind) for kind in value] if isinstance(value, list | tuple) else []
        return (kinds + [""] * len(self.widgets))[: len(self.widgets)]


class ChannelOrderField(forms.MultiValueField):
    """Channel kinds in order of preference, as a list; blanks between choices are skipped."""

    widget = ChannelOrderWidget

    def __init__(self, **kwargs: Any) -> None:
        choices = channel_choices()
        fields = [forms.ChoiceField(choices=choices, required=False) for _ in choices]
        kwargs.setdefault(
            "error_messages", {"required": _("Choose at least one channel."), "incomplete": ""}
        )
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[str]) -> list[str]:
        chosen = [kind for kind in data_list if kind]
        twice = sorted({kind for kind in chosen if chosen.count(kind) > 1})
        if twice:
            raise ValidationError(
                _("Choose each channel once: %(kinds)s is chosen more than once."),
                code="duplicate",
                params={"kinds": ", ".join(twice)},
            )
        return chosen

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.compress(list(data or [])) != list(initial or [])
        except ValidationError:
            return True


class CampaignAdminForm(forms.ModelForm):
    channels = ChannelOrderField(
        label=capfirst(_("channels")),
        help_text=_(
            "In order of preference: each customer gets the first one they can be reached on "
            "and have consented to."
        ),
    )
    time_zone = forms.ChoiceField(
        label=capfirst(_("time zone")),
        choices=zone_choices,
        help_text=_("The send time and the recurrence are read in this time zone."),
    )

    class Meta:
        model = Campaign
        fields = (
            "name",
            "segment",
            "channels",
            "template_key",
            "holdout_percent",
            "goal_event",
            "goal_window",
            "throttle_per_minute",
            "window_start",
            "window_end",
            "schedule",
            "send_at",
            "crontab",
            "time_zone",
        )
        help_texts = {
            "template_key": _(
                "The key of the message templates: one per channel and language. The page "
                "lists which exist once the campaign is saved."
            ),
            "goal_window": _(
                "How long after the message a goal event still counts, e.g. “5 00:00:00” "
                "for five days."
            ),
            "send_at": _("In the campaign's time zone, below."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("template_key", "crontab", "goal_event"):
            if name in self.fields:
                self.fields[name].widget.attrs.update(dir="ltr", spellcheck="false")
        if "template_key" in self.fields:
            self.fields["template_key"].widget.attrs["list"] = "campaign-template-keys"
        if "holdout_percent" in self.fields:
            self.fields["holdout_percent"].widget.attrs["max"] = 50
        if "schedule" in self.fields:
            self.fields["schedule"].widget.attrs["class"] = "crm-campaign-schedule"
        # The send time is shown and read as a wall time in the campaign's time zone.
        send_at, zone = self.instance.send_at, campaign_zone(self.instance)
        if not self.is_bound and send_at is not None and zone is not None:
            self.initial["send_at"] = timezone.localtime(send_at, zone).replace(tzinfo=None)

    def clean_holdout_percent(self) -> int:
        value = self.cleaned_data["holdout_percent"]
        if value > 50:
            raise ValidationError(_("Hold out at most half of the audience."), code="too_big")
        return value

    def clean_goal_window(self) -> Any:
        value = self.cleaned_data.get("goal_window")
        if value is not None and value.total_seconds() <= 0:
            raise ValidationError(_("The goal window must be longer than zero."), code="empty")
        return value

    def clean_crontab(self) -> str:
        return " ".join(self.cleaned_data.get("crontab", "").split())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        schedule = cleaned.get("schedule")
        send_at, zone = cleaned.get("send_at"), cleaned.get("time_zone")
        if send_at is not None and zone:
            # Parsed in the viewer's time zone; the person meant the campaign's.
            wall = timezone.make_naive(send_at)
            cleaned["send_at"] = timezone.make_aware(wall, zoneinfo.ZoneInfo(zone))
        if schedule == Campaign.Schedule.AT and send_at is None and "send_at" not in self.errors:
            self.add_error("send_at", _("Choose when to send."))
        if schedule == Campaign.Schedule.RECURRING and "crontab" not in self.errors:
            if not lifecycle.valid_crontab(cleaned.get("crontab", "")):
                self.add_error(
                    "crontab", _('Five fields: minute hour day month weekday, e.g. "0 10 * * 6".')
                )
        start, end = cleaned.get("window_start"), cleaned.get("window_end")
        if (start is None) != (end is None) and not {"window_start", "window_end"} & set(
            self.errors
        ):
            self.add_error("window_end", _("A send window needs both a start and an end."))
        return cleaned
