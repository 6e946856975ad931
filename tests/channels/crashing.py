"""A backend for the crash test: it writes each send to a journal file (what the provider got)
and, when told to, kills its own process right after — a worker dying between the provider call
and the status write."""

import os
import signal
from pathlib import Path

from channels.backends.base import Backend, Outgoing


class JournalBackend(Backend):
    def send(self, message: Outgoing) -> str:
        with Path(self.setting("journal", required=True)).open("a") as journal:
            journal.write(f"sent {message.message_id}\n")
        if self.setting("die_after_send"):
            os.kill(os.getpid(), signal.SIGKILL)
        return f"journal-{message.message_id}"
