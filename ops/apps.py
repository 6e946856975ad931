from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from ops import logs

        # Each Celery task's log lines carry its id and name (the worker imports Django first).
        logs.connect_celery_signals()
