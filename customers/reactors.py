"""The ordered registry of what reacts to each recorded interaction.

``record_interaction`` is the one event log. Apps that keep state derived from events (commerce
keeps carts and orders, journeys enroll and exit customers) register a reactor here in their
``AppConfig.ready()``; ``customers`` never imports them. Reactors run in the same transaction as
the interaction, in ``order`` (then registration) order — see docs/decisions.md for why. A
reactor may name the event names it cares about, so the rest of the log skips it at no cost.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from customers.models import Interaction

Reactor = Callable[["Interaction"], None]


Prepare = Callable[[Sequence["Interaction"]], None]
# The event names a reactor cares about: a fixed set, or a test for names that change at run time
# (journeys: whatever the journeys staff edit trigger on).
Events = Collection[str] | Callable[[str], bool]


@dataclass(frozen=True)
class _Entry:
    order: int
    sequence: int
    label: str
    reactor: Reactor
    names: frozenset[str] | Callable[[str], bool] | None
    prepare: Prepare | None = None

    def wants(self, interaction: Interaction) -> bool:
        return self.wants_name(interaction.name)

    def wants_name(self, name: str) -> bool:
        if self.names is None:
            return True
        if callable(self.names):
            return self.names(name)
        return name in self.names


_entries: list[_Entry] = []


def register(
    reactor: Reactor,
    *,
    order: int,
    name: str | None = None,
    events: Events | None = None,
    prepare: Prepare | None = None,
) -> None:
    """Add a reactor (for every interaction, or only those whose name is in ``events``).
    ``prepare`` gets a whole chunk of interactions first, to do in bulk what it can (in message
    order, as the per-event reactor would). Registering the same name again replaces it."""
    label = name or f"{reactor.__module__}.{reactor.__qualname__}"
    _entries[:] = [entry for entry in _entries if entry.label != label]
    names = events if callable(events) or events is None else frozenset(events)
    _entries.append(_Entry(order, len(_entries), label, reactor, names, prepare))
    _entries.sort(key=lambda entry: (entry.order, entry.sequence))


def unregister(label: str) -> None:
    _entries[:] = [entry for entry in _entries if entry.label != label]


def registered() -> list[str]:
    return [entry.label for entry in _entries]


def wanted(interaction: Interaction) -> bool:
    """Whether any reactor cares about this interaction."""
    return any(entry.wants(interaction) for entry in _entries)


def wanted_name(name: str) -> bool:
    """Whether any reactor cares about interactions of this name (a writer that makes rows in
    SQL alone, without model instances, may do so only when none does)."""
    return any(entry.wants_name(name) for entry in _entries)


def dispatch(interaction: Interaction) -> None:
    """Run the interested reactors on a new interaction; an exception aborts the recording."""
    for entry in _entries:
        if entry.wants(interaction):
            entry.reactor(interaction)


_scope: ContextVar[dict[str, Any] | None] = ContextVar("reactor_scope", default=None)
_chunk: ContextVar[dict[str, Any] | None] = ContextVar("reactor_chunk", default=None)


def _memo(var: ContextVar[dict[str, Any] | None], name: str) -> dict[Any, Any]:
    memos = var.get()
    if memos is None:
        return {}  # outside a scope nothing is remembered
    return memos.setdefault(name, {})


@contextmanager
def batch_scope() -> Iterator[None]:
    """Mark a unit of work (one tracking batch, one transaction) inside which reactors may
    memoise what they read, e.g. a product looked up for 40 events of the same batch."""
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


def scope_memo(name: str) -> dict[Any, Any]:
    """The reactor's memo for the current batch scope; outside one, a throwaway dict."""
    return _memo(_scope, name)


@contextmanager
def chunk_scope(interactions: Sequence[Interaction]) -> Iterator[None]:
    """Dispatch a chunk of new interactions together: each reactor's ``prepare`` reads what
    the chunk needs first, into memos (``chunk_memo``) that end with the chunk, so nothing
    read here can go stale across a merge elsewhere in the batch."""
    token = _chunk.set({})
    try:
        for entry in _entries:
            wanted = [i for i in interactions if entry.wants(i)]
            if entry.prepare is not None and wanted:
                entry.prepare(wanted)
        yield
    finally:
        _chunk.reset(token)


def chunk_memo(name: str) -> dict[Any, Any]:
    """The reactor's memo for the current chunk; outside one, a throwaway dict."""
    return _memo(_chunk, name)


def dispatch_chunk(interactions: Sequence[Interaction]) -> None:
    """Dispatch new interactions as one chunk: each reactor's ``prepare`` first, in bulk, then
    each interaction in order."""
    with chunk_scope(interactions):
        for interaction in interactions:
            dispatch(interaction)
