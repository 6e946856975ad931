"""Prints messages instead of sending them, for development (like Django's console email)."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, TextIO

from channels.backends.base import Backend, Outgoing

if TYPE_CHECKING:
    from channels.models import Channel

_lock = threading.Lock()  # keeps blocks from concurrent threads apart


class ConsoleBackend(Backend):
    """Writes each message to ``stream``; never fails."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        self.stream: TextIO = sys.stdout

    def send(self, message: Outgoing) -> str:
        lines = [
            f"----- {message.kind} #{message.message_id} ({message.purpose}) -----",
            f"To: {message.to}",
        ]
        if message.subject:
            lines.append(f"Subject: {message.subject}")
        block = "\n".join([*lines, "", message.text, "-" * 40, ""])
        with _lock:
            self.stream.write(block)
            self.stream.flush()
        return f"console-{message.message_id}"
