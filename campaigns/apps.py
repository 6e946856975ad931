from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns import (
            merging,
            privacy,  # noqa: F401  (registers its data-rights handlers)
        )
        from campaigns.models import Recipient, SegmentMember
        from customers import relocation

        relocation.register(SegmentMember, handler=merging.OncePerGroup("segment"))
        relocation.register(Recipient, handler=merging.OncePerGroup("run"))
