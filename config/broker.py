"""Kombu's ``filesystem://`` transport, made safe for a reader and a writer at the same moment.

The embedded default broker (``make run`` with nothing configured) is a folder of message files.
Kombu writes each file in place, so a worker listing the folder can take a file the web process
has created but not yet written, read it empty and stop with a JSON error. Here a message is
written under a name no reader looks at, then renamed into place in one step.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".partial"  # readers only take names ending in "<queue>.msg"
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
