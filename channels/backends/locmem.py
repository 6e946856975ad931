"""Keeps messages in memory, for tests (like Django's ``mail.outbox``).

Settings: ``fail`` ("transient" or "permanent") makes sends raise that error; ``fail_times`` (int)
fails only the first N sends of the channel, then succeeds; ``bounced`` (bool) marks a permanent
failure as a hard bounce.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Hashable

from channels.backends.base import Backend, Outgoing, PermanentError, TransientError

outbox: list[Outgoing] = []
_failures: Counter[Hashable] = Counter()  # failed sends so far, per channel pk
_lock = threading.Lock()


def reset() -> None:
    """Empty the outbox and the failure counters (between tests)."""
    with _lock:
        outbox.clear()
        _failures.clear()


class LocmemBackend(Backend):
    """Appends to ``outbox``, or fails as its settings say; thread-safe."""

    def send(self, message: Outgoing) -> str:
        fail = self.setting("fail", "")
        fail_times = self.setting("fail_times")
        if fail not in ("", "transient", "permanent"):
            raise PermanentError(f"Channel {self.channel.name!r}: unknown fail mode {fail!r}.")
        # An unsaved channel (tests) has no pk yet: count by name instead.
        key = self.channel.pk if self.channel.pk is not None else self.channel.name
        with _lock:
            if fail_times is not None:
                failing = _failures[key] < int(fail_times)
                fail = (fail or "transient") if failing else ""
            if fail:
                _failures[key] += 1
            else:
                outbox.append(message)
        if fail == "permanent":
            raise PermanentError(
                f"Channel {self.channel.name!r} fails on purpose (permanent).",
                bounced=bool(self.setting("bounced", False)),
            )
        if fail == "transient":
            raise TransientError(f"Channel {self.channel.name!r} fails on purpose (transient).")
        return f"locmem-{message.message_id}"
