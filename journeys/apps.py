from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = _("Journeys")

    def ready(self) -> None:
        from channels import policy
        from customers import reactors, relocation
        from journeys import (
            engine,
            merging,
            privacy,  # noqa: F401  (registers its data-rights handlers)
        )
        from journeys.models import Enrollment, Journey, JourneyStep

        relocation.register(Enrollment, handler=merging.EnrollmentRelocation())
        policy.register(engine.still_wanted)
        # This process's cached journeys follow a staff edit at once (others within 30 s).
        for model in (Journey, JourneyStep):
            for signal in (post_save, post_delete):
                signal.connect(
                    lambda **kwargs: engine.forget(),
                    sender=model,
                    weak=False,
                    dispatch_uid=f"journeys.forget.{model.__name__}.{signal is post_save}",
                )
        # After commerce (order 10): a journey reacting to an event sees the converted cart.
        reactors.register(
            engine.on_interaction,
            order=20,
            name="journeys",
            events=engine.watches,
            prepare=engine.prepare,
        )
