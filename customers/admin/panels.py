"""Panels other apps add to the single customer view, in a fixed order.

``customers`` imports no other app of ours (DESIGN.md, "Dependency direction"), yet the customer
page must show what they know about the person: the outbox ("what's coming, why not sent"), a
send form. Each app registers a panel in its admin module; the change page renders every panel
whose context function returns a dict, after the profile sections. Like the reactor registry, an
explicit list is easier to follow than a signal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from customers.models import Customer

PanelContext = Callable[["HttpRequest", "Customer"], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: PanelContext
    order: int


@dataclass(frozen=True)
class RenderedPanel:
    """What the change page template includes: ``template`` sees ``panel`` as its context."""

    name: str
    template: str
    context: dict[str, Any]


_panels: dict[str, Panel] = {}


def register(name: str, *, template: str, context: PanelContext, order: int = 100) -> None:
    """Add (or replace, by name: a re-imported admin module must not show a panel twice) a
    panel. ``context(request, customer)`` returns the panel's context, or None to hide it (the
    viewer may not see it, or it has nothing to say)."""
    _panels[name] = Panel(name=name, template=template, context=context, order=order)


def unregister(name: str) -> None:
    _panels.pop(name, None)


def registered() -> list[Panel]:
    """The panels in page order (``order``, then name, so equal orders stay stable)."""
    return sorted(_panels.values(), key=lambda panel: (panel.order, panel.name))


def panels_for(request: HttpRequest, customer: Customer) -> list[RenderedPanel]:
    """The panels this viewer sees on this customer's page, each with its context."""
    shown = []
    for panel in registered():
        context = panel.context(request, customer)
        if context is not None:
            shown.append(RenderedPanel(panel.name, panel.template, context))
    return shown
