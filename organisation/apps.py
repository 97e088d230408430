from django.apps import AppConfig, apps
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_role_groups(sender, **kwargs):
    """Rebuild the role groups once every app's permissions exist.

    ``post_migrate`` is sent once per app, in INSTALLED_APPS order, and each app's permissions are
    created by its own signal: when this app's came, billing's and workflow's did not exist yet on a
    fresh database. So the groups are rebuilt after the last app's signal (every ``migrate``).
    """
    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if sender.label != last.label:
        return
    from .services import roles_ensure_groups

    roles_ensure_groups()


class PortalAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the portal's site: administrators (the ``admin`` role) only."""

    default = False  # "organisation" itself still means OrganisationConfig
    default_site = "organisation.admin_site.PortalAdminSite"


class OrganisationConfig(AppConfig):
    name = "organisation"
    # The label the models had in the portal package: tables, migrations and permissions unchanged.
    label = "portal"
    verbose_name = _("Portal")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Permissions exist only after migrate; the role groups are (re)built right after it.
        post_migrate.connect(_ensure_role_groups, dispatch_uid="portal-role-groups")
        from . import tasks  # noqa: F401 - registered with Celery (organisation.queue queues them by name)
