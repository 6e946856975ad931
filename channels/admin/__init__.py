"""The channels back office, registered on import as Django's autodiscovery expects.

A package (configuration screens, the outbox and its customer page panels) so that neither
module passes a few hundred lines.
"""

from channels.admin.configuration import (
    ChannelAdmin,
    FrequencyCapAdmin,
    HolidayAdmin,
    TemplateAdmin,
)
from channels.admin.outbox import MessageAdmin

__all__ = ["ChannelAdmin", "FrequencyCapAdmin", "HolidayAdmin", "MessageAdmin", "TemplateAdmin"]
