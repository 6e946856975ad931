from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns import merging
        from campaigns.models import SegmentMember
        from customers import relocation

        relocation.register(SegmentMember, handler=merging.MembershipRelocation())
