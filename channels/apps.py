from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = _("Channels")

    def ready(self) -> None:
        from channels.models import Message
        from customers import relocation

        # A merge moves the duplicate's messages (and so its caps and "why not sent").
        relocation.register(Message)
