"""The ordered registry of what reacts to each recorded interaction.

``record_interaction`` is the one event log. Apps that keep state derived from events (commerce
keeps carts and orders, journeys enroll and exit customers) register a reactor here in their
``AppConfig.ready()``; ``customers`` never imports them. Reactors run in the same transaction as
the interaction, in ``order`` (then registration) order — see docs/decisions.md for why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from customers.models import Interaction

Reactor = Callable[["Interaction"], None]

_reactors: list[tuple[int, int, str, Reactor]] = []


def register(reactor: Reactor, *, order: int, name: str | None = None) -> None:
    """Add a reactor; registering the same name again replaces it (safe on app reload)."""
    label = name or f"{reactor.__module__}.{reactor.__qualname__}"
    _reactors[:] = [entry for entry in _reactors if entry[2] != label]
    _reactors.append((order, len(_reactors), label, reactor))
    _reactors.sort(key=lambda entry: (entry[0], entry[1]))


def registered() -> list[str]:
    return [label for _, _, label, _ in _reactors]


def dispatch(interaction: Interaction) -> None:
    """Run every reactor on a newly recorded interaction; an exception aborts the recording."""
    for _, _, _, reactor in _reactors:
        reactor(interaction)
