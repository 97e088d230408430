from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    """The managers' dashboard: no models of its own (its permission, ``portal.view_dashboard``, is on ``User``)."""

    name = "dashboard"
    verbose_name = _("Dashboard")
