from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = _("Channels")

    def ready(self) -> None:
        from channels import (
            casework,
            policy,
            privacy,  # noqa: F401  (registers its data-rights handlers)
        )
        from channels.models import FrequencyCap, Message
        from customers import cases, relocation

        # A merge moves the duplicate's messages (and so its caps and "why not sent").
        relocation.register(Message)
        # ... and its pending verification codes (channels.verification; the model is security's).
        from security.models import VerificationCode

        relocation.register(VerificationCode)
        # Resolving a support case may ask for satisfaction; customers cannot send itself.
        cases.register_csat_sender(casework.request_csat)
        # This process's cached caps follow an edit at once (others within 30 seconds).
        for signal in (post_save, post_delete):
            signal.connect(
                lambda **kwargs: policy.forget_caps(),
                sender=FrequencyCap,
                weak=False,
                dispatch_uid=f"channels.forget_caps.{signal is post_save}",
            )
