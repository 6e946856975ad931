"""Journeys and their steps in the admin: the list with each journey's figures, switching
journeys on and off, and a change form that refuses what the engine could not run."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.db.models import Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import Cast, Coalesce, NullIf
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.template.defaultfilters import floatformat
from django.utils import translation
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from channels.models import Channel, Template
from journeys import engine
from journeys.models import Journey, JourneyStep

# JSON typed by hand reads left to right in Persian and Arabic pages too.
JSON_LIST_WIDGET = forms.Textarea(attrs={"rows": 2, "cols": 60, "dir": "ltr"})
JSON_INLINE_WIDGET = forms.TextInput(attrs={"size": 18, "dir": "ltr"})


# --- Forms --------------------------------------------------------------------------------------


def event_names(value: Any) -> list[str]:
    """A JSON list of event names, trimmed and without repeats; empty input is an empty list."""
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(n, str) and n.strip() for n in value):
        raise ValidationError(
            _('Enter a JSON list of event names, e.g. ["Order Completed"].'), code="not_names"
        )
    return list(dict.fromkeys(name.strip() for name in value))


class JourneyForm(forms.ModelForm):
    class Meta:
        model = Journey
        fields = (
            "name",
            "key",
            "active",
            "trigger_events",
            "trigger_filter",
            "context",
            "restart_on_trigger",
            "reentry_period",
            "exit_events",
            "goal_event",
            "goal_window",
        )
        widgets = {
            "trigger_events": JSON_LIST_WIDGET,
            "trigger_filter": JSON_LIST_WIDGET,
            "exit_events": JSON_LIST_WIDGET,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # [] is a valid value (a system-triggered journey such as back_in_stock), yet a
        # required form field would call it empty.
        if "trigger_events" in self.fields:
            self.fields["trigger_events"].required = False

    def clean_trigger_events(self) -> list[str]:
        return event_names(self.cleaned_data.get("trigger_events"))

    def clean_exit_events(self) -> list[str]:
        return event_names(self.cleaned_data.get("exit_events"))

    def clean_trigger_filter(self) -> dict[str, Any]:
        value = self.cleaned_data.get("trigger_filter")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError(
                _('Enter a JSON object of property values, e.g. {"currency": "IRR"}.'),
                code="not_object",
            )
        return value


class JourneyStepForm(forms.ModelForm):
    class Meta:
        model = JourneyStep
        fields = (
            "position",
            "wait",
            "condition",
            "channels",
            "template",
            "purpose",
            "intent",
            "discount_code",
            "set_stage",
        )
        widgets = {"channels": JSON_INLINE_WIDGET}

    def __init__(
        self, *args: Any, template_keys: Callable[[], Collection[str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.template_keys = template_keys or (
            lambda: set(Template.objects.values_list("key", flat=True))
        )
        if "channels" in self.fields:
            self.fields["channels"].required = False  # an empty list gets its own message
        if "template" in self.fields:
            self.fields["template"].widget.attrs["dir"] = "ltr"

    def clean_wait(self) -> Any:
        wait = self.cleaned_data.get("wait")
        if wait is not None and wait.total_seconds() < 0:
            raise ValidationError(_("The wait cannot be negative."), code="negative")
        return wait

    def clean_channels(self) -> list[str]:
        value = self.cleaned_data.get("channels")
        known = Channel.Kind.values
        example = _('Enter a JSON list of channel kinds in order, e.g. ["email", "sms"].')
        if not isinstance(value, list) or not value:
            raise ValidationError(example, code="not_list")
        unknown = [str(kind) for kind in value if kind not in known]
        if unknown:
            raise ValidationError(
                _("Unknown channel kind: %(unknown)s. Known kinds: %(known)s."),
                code="unknown_kind",
                params={"unknown": ", ".join(unknown), "known": ", ".join(known)},
            )
        return list(dict.fromkeys(value))

    def clean_template(self) -> str:
        key = self.cleaned_data.get("template", "")
        if key and key not in self.template_keys():
            raise ValidationError(
                _("No message template has the key “%(key)s”; add it under Templates first."),
                code="unknown_template",
                params={"key": key},
            )
        return key


class JourneyStepFormSet(BaseInlineFormSet):
    """Reads the template keys once for all the steps, and keeps an active journey runnable."""

    @cached_property
    def _template_keys(self) -> set[str]:
        return set(Template.objects.order_by().values_list("key", flat=True).distinct())

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        # A callable: the GET page (and its empty form) never reads the templates.
        return {**super().get_form_kwargs(index), "template_keys": lambda: self._template_keys}

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [f for f in self.forms if f.cleaned_data and not self._should_delete_form(f)]
        # The engine schedules an enrollment by its journey's first step.
        if self.instance.active and not kept:
            raise ValidationError(_("An active journey needs at least one step."), code="no_steps")


class JourneyStepInline(admin.TabularInline):
    model = JourneyStep
    form = JourneyStepForm
    formset = JourneyStepFormSet
    ordering = ("position",)

    def get_extra(self, request: HttpRequest, obj: Journey | None = None, **kwargs: Any) -> int:
        return 1 if obj is None else 0  # a new journey starts with one empty step


# --- The journey list ---------------------------------------------------------------------------


def with_figures(queryset: QuerySet[Journey]) -> QuerySet[Journey]:
    """Each journey with its figures, in the same query: one pass over its enrollments."""
    converted = Q(enrollments__converted_at__isnull=False)
    return queryset.annotate(
        entered=Count("enrollments"),
        sent=Coalesce(Sum("enrollments__messages_sent"), 0),
        converted=Count("enrollments", filter=converted),
        revenue=Sum("enrollments__revenue", filter=converted),
        conversion=Cast(F("converted"), FloatField()) / NullIf(F("entered"), 0),
    )


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    form = JourneyForm
    inlines = (JourneyStepInline,)
    list_display = (
        "name",
        "key",
        "triggers",
        "active",
        "entered_count",
        "sent_count",
        "converted_count",
        "conversion_rate",
        "revenue_total",
    )
    list_filter = ("active", "context")
    search_fields = ("name", "key")
    list_per_page = 100
    # The paginator's COUNT joins the enrollments too (the annotations group the query); a
    # second, unfiltered count would add a third pass.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ("switch_on", "switch_off")
    fieldsets = (
        (None, {"fields": (("name", "key"), "active")}),
        (
            _("Entry"),
            {
                "fields": (
                    "trigger_events",
                    "trigger_filter",
                    "context",
                    "restart_on_trigger",
                    "reentry_period",
                )
            },
        ),
        (_("Exit and goal"), {"fields": ("exit_events", ("goal_event", "goal_window"))}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Journey | None = None) -> Any:
        # Code finds some journeys by key (journeys/stock.py: back_in_stock).
        return ("key",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Journey | None = None) -> bool:
        # Deleting takes every enrollment with it (and the confirmation page lists them all):
        # a journey somebody entered is switched off instead.
        if obj is not None and obj.enrollments.exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would delete entered journeys too
        return actions

    def get_queryset(self, request: HttpRequest) -> QuerySet[Journey]:
        queryset = super().get_queryset(request)
        url_name = getattr(request.resolver_match, "url_name", None) or ""
        if url_name.endswith("_changelist"):
            queryset = with_figures(queryset)
        return queryset

    @admin.display(description=_("entered on"))
    def triggers(self, journey: Journey) -> str:
        return ", ".join(journey.trigger_events) or str(_("(system trigger)"))

    @admin.display(description=_("entered"), ordering="entered")
    def entered_count(self, journey: Journey) -> int:
        return journey.entered  # type: ignore[attr-defined]

    @admin.display(description=_("messages sent"), ordering="sent")
    def sent_count(self, journey: Journey) -> int:
        return journey.sent  # type: ignore[attr-defined]

    @admin.display(description=_("converted"), ordering="converted")
    def converted_count(self, journey: Journey) -> int:
        return journey.converted  # type: ignore[attr-defined]

    @admin.display(description=_("conversion rate"), ordering="conversion")
    def conversion_rate(self, journey: Journey) -> str:
        rate = journey.conversion  # type: ignore[attr-defined]
        if rate is None:
            return self.get_empty_value_display()
        return _("%(percent)s%%") % {"percent": floatformat(rate * 100, -1)}

    @admin.display(description=_("revenue attributed"), ordering="revenue")
    def revenue_total(self, journey: Journey) -> Any:
        return journey.revenue  # type: ignore[attr-defined]

    @admin.action(description=_("Switch the selected journeys on"), permissions=["change"])
    def switch_on(self, request: HttpRequest, queryset: QuerySet[Journey]) -> None:
        self._switch(request, queryset, active=True)

    @admin.action(description=_("Switch the selected journeys off"), permissions=["change"])
    def switch_off(self, request: HttpRequest, queryset: QuerySet[Journey]) -> None:
        self._switch(request, queryset, active=False)

    def _switch(self, request: HttpRequest, queryset: QuerySet[Journey], *, active: bool) -> None:
        changing = [journey for journey in queryset if journey.active != active]
        if active:
            # The engine schedules by the first step (see JourneyStepFormSet.clean).
            empty = set(
                Journey.objects.filter(
                    pk__in=[j.pk for j in changing], steps__isnull=True
                ).values_list("pk", flat=True)
            )
            for journey in (j for j in changing if j.pk in empty):
                self.message_user(
                    request,
                    _("%(journey)s has no steps; it stays off.") % {"journey": journey},
                    messages.WARNING,
                )
            changing = [j for j in changing if j.pk not in empty]
        # By pk: the list may be ordered by a figure, and an UPDATE cannot order by an aggregate.
        Journey.objects.filter(pk__in=[j.pk for j in changing]).update(active=active)
        engine.forget()  # update() sends no post_save: this process re-reads the journeys now
        with translation.override(None):  # stored untranslated, as the admin's own entries
            label = str(Journey._meta.get_field("active").verbose_name)
        LogEntry.objects.log_actions(
            user_id=request.user.pk,
            queryset=changing,
            action_flag=CHANGE,
            change_message=[{"changed": {"fields": [label]}}],
        )
        template = (
            ngettext(
                "%(count)d journey switched on.", "%(count)d journeys switched on.", len(changing)
            )
            if active
            else ngettext(
                "%(count)d journey switched off.", "%(count)d journeys switched off.", len(changing)
            )
        )
        self.message_user(request, template % {"count": len(changing)}, messages.SUCCESS)
