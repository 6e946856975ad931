"""List filters of the customer list; each is one EXISTS, so none adds a query per row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from customers.models import ChannelKind, Consent, Customer, Interaction, MergeSuggestion


class MergedFilter(admin.SimpleListFilter):
    """Live customers by default; tombstones only when asked for."""

    title = _("merged")
    parameter_name = "merged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("all", _("Live and merged")), ("merged", _("Merged only"))]

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        choices = super().choices(changelist)
        yield {**next(choices), "display": _("Live only")}  # the first choice is "no filter"
        yield from choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Customer]) -> QuerySet[Customer]:
        if self.value() == "merged":
            return queryset.filter(merged_into__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(merged_into__isnull=True)


class ChannelSeenFilter(admin.SimpleListFilter):
    title = _("channel seen")
    parameter_name = "channel"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(ChannelKind.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Customer]) -> QuerySet[Customer]:
        if self.value() not in ChannelKind.values:
            return queryset
        return queryset.filter(
            Exists(Interaction.objects.filter(customer=OuterRef("pk"), channel=self.value()))
        )


class MarketingConsentFilter(admin.SimpleListFilter):
    """Any marketing consent row (per address or customer-wide) in the chosen state."""

    title = _("marketing consent")
    parameter_name = "consent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("granted", _("Granted")),
            ("withdrawn", _("Withdrawn")),
            ("none", _("None recorded")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Customer]) -> QuerySet[Customer]:
        marketing = Consent.objects.filter(
            customer=OuterRef("pk"), purpose=Consent.Purpose.MARKETING
        )
        value = self.value()
        if value in (Consent.Status.GRANTED, Consent.Status.WITHDRAWN):
            return queryset.filter(Exists(marketing.filter(status=value)))
        if value == "none":
            return queryset.filter(~Exists(marketing))
        return queryset


class OpenSuggestionFilter(admin.SimpleListFilter):
    title = _("merge suggestion")
    parameter_name = "suggestion"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("open", _("Has an open suggestion"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Customer]) -> QuerySet[Customer]:
        if self.value() != "open":
            return queryset
        suggestions = MergeSuggestion.objects.filter(status=MergeSuggestion.Status.OPEN)
        return queryset.filter(
            Q(Exists(suggestions.filter(customer=OuterRef("pk"))))
            | Q(Exists(suggestions.filter(other=OuterRef("pk"))))
        )


class SuggestionStatusFilter(admin.SimpleListFilter):
    """Open suggestions by default: they are the work queue."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            (MergeSuggestion.Status.ACCEPTED, MergeSuggestion.Status.ACCEPTED.label),
            (MergeSuggestion.Status.REJECTED, MergeSuggestion.Status.REJECTED.label),
            ("all", _("All")),
        ]

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        choices = super().choices(changelist)
        yield {**next(choices), "display": MergeSuggestion.Status.OPEN.label}
        yield from choices

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[MergeSuggestion]
    ) -> QuerySet[MergeSuggestion]:
        value = self.value()
        if value == "all":
            return queryset
        if value in (MergeSuggestion.Status.ACCEPTED, MergeSuggestion.Status.REJECTED):
            return queryset.filter(status=value)
        return queryset.filter(status=MergeSuggestion.Status.OPEN)
