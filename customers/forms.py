"""Forms of the customer admin: the profile, identities, and the "log an interaction" form."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.identity import normalize_identifier
from customers.models import ChannelKind, Customer, Identity, Interaction

# A clock a few minutes fast on the agent's machine must not reject "now".
FUTURE_TOLERANCE = timedelta(minutes=5)


class LogInteractionForm(forms.Form):
    """What an agent logs by hand: a call, a store visit, a chat or a note."""

    TYPE_CHOICES = [
        (Interaction.Type.CALL, Interaction.Type.CALL.label),
        (Interaction.Type.VISIT, Interaction.Type.VISIT.label),
        (Interaction.Type.CHAT, Interaction.Type.CHAT.label),
        (Interaction.Type.NOTE, Interaction.Type.NOTE.label),
    ]
    # Internal is offered besides in/out because a note is neither.
    DIRECTION_CHOICES = [
        (Interaction.Direction.INBOUND, Interaction.Direction.INBOUND.label),
        (Interaction.Direction.OUTBOUND, Interaction.Direction.OUTBOUND.label),
        (Interaction.Direction.INTERNAL, Interaction.Direction.INTERNAL.label),
    ]

    type = forms.ChoiceField(label=_("Type"), choices=TYPE_CHOICES, initial=Interaction.Type.CALL)
    channel = forms.ChoiceField(
        label=_("Channel"), choices=ChannelKind.choices, initial=ChannelKind.PHONE
    )
    direction = forms.ChoiceField(
        label=_("Direction"), choices=DIRECTION_CHOICES, initial=Interaction.Direction.INBOUND
    )
    summary = forms.CharField(label=_("Summary"), max_length=500)
    details = forms.CharField(
        label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        help_text=_("Leave empty for now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The page also holds the profile form; distinct ids keep every <label for> unique.
        kwargs.setdefault("auto_id", "log-%s")
        super().__init__(*args, **kwargs)

    def clean_summary(self) -> str:
        summary = " ".join(self.cleaned_data["summary"].split())
        if not summary:
            raise forms.ValidationError(_("Write a one-line summary."), code="required")
        return summary

    def clean_occurred_at(self) -> Any:
        occurred_at = self.cleaned_data.get("occurred_at")
        if occurred_at and occurred_at > timezone.now() + FUTURE_TOLERANCE:
            raise forms.ValidationError(_("This is in the future."), code="future")
        return occurred_at

    def interaction_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``services.record_interaction`` (call only when valid)."""
        data = self.cleaned_data
        details = data.get("details", "").strip()
        return {
            "type": data["type"],
            "channel": data["channel"],
            "direction": data["direction"],
            "summary": data["summary"],
            "properties": {"details": details} if details else {},
            "occurred_at": data.get("occurred_at") or None,
        }


class CustomerAdminForm(forms.ModelForm):
    """The profile form; the time zone must be one the ``zoneinfo`` database knows."""

    class Meta:
        model = Customer
        fields = ["first_name", "last_name", "locale", "time_zone", "stage", "traits"]

    def clean_time_zone(self) -> str:
        value = (self.cleaned_data.get("time_zone") or "").strip()
        if value:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
                raise forms.ValidationError(
                    _("Unknown time zone; use a name such as Asia/Tehran."), code="invalid"
                ) from exc
        return value


class IdentityAdminForm(forms.ModelForm):
    """Identities typed by staff are normalised exactly as the resolver stores them."""

    class Meta:
        model = Identity
        fields = ["customer", "kind", "value", "verified", "source", "created_at"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, raw = (data.get("kind") or "").strip().lower(), data.get("value")
        if kind and raw:
            value = normalize_identifier(kind, raw)
            if value is None:
                self.add_error("value", _("This is not a usable identifier of this kind."))
            else:
                data["kind"], data["value"] = kind, value
        return data
