from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import rules, tasks  # noqa: F401 - tasks: registered with Celery (organisation.queue queues them by name)

        # The policy rows are read once per request or task (billing.rules).
        rules.connect_signals()
