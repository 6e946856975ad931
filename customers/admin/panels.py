"""Panels other apps add to the single customer view, in a fixed order.

``customers`` imports no other app of ours (DESIGN.md, "Dependency direction"), yet the customer
page must show what they know about the person: the outbox ("what's coming, why not sent"), a
send form. Each app registers a panel in its admin module; the change page renders every panel
whose context function returns a dict, after the profile sections. Like the reactor registry, an
explicit list is easier to follow than a signal.

A panel registered with ``slot="summary"`` is a card in the page's first-screen summary (the
live cart, active journeys) rather than a section below the profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from customers.models import Customer

PanelContext = Callable[["HttpRequest", "Customer"], "dict[str, Any] | None"]
SECTION = "section"
SUMMARY = "summary"


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: PanelContext
    order: int
    slot: str = SECTION


@dataclass(frozen=True)
class RenderedPanel:
    """What the change page template includes: ``template`` sees ``panel`` as its context."""

    name: str
    template: str
    context: dict[str, Any]


_panels: dict[str, Panel] = {}


def register(
    name: str, *, template: str, context: PanelContext, order: int = 100, slot: str = SECTION
) -> None:
    """Add (or replace, by name: a re-imported admin module must not show a panel twice) a
    panel. ``context(request, customer)`` returns the panel's context, or None to hide it (the
    viewer may not see it, or it has nothing to say). ``slot``: SECTION or SUMMARY."""
    _panels[name] = Panel(name=name, template=template, context=context, order=order, slot=slot)


def unregister(name: str) -> None:
    _panels.pop(name, None)


def registered(slot: str = SECTION) -> list[Panel]:
    """The panels of a slot in page order (``order``, then name, so equal orders stay stable)."""
    return sorted(
        (panel for panel in _panels.values() if panel.slot == slot),
        key=lambda panel: (panel.order, panel.name),
    )


def panels_for(
    request: HttpRequest, customer: Customer, *, slot: str = SECTION
) -> list[RenderedPanel]:
    """The panels of a slot this viewer sees on this customer's page, each with its context."""
    shown = []
    for panel in registered(slot):
        context = panel.context(request, customer)
        if context is not None:
            shown.append(RenderedPanel(panel.name, panel.template, context))
    return shown
