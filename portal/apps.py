from django.apps import AppConfig, apps
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_role_groups(sender, **kwargs):
    """Rebuild the role groups once every app's permissions exist.

    ``post_migrate`` is sent once per app, in INSTALLED_APPS order, and each app's permissions are
    created by its own signal: when portal's came, billing's and workflow's did not exist yet on a
    fresh database. So the groups are rebuilt after the last app's signal (every ``migrate``).
    """
    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if sender.label != last.label:
        return
    from .services import roles_ensure_groups

    roles_ensure_groups()


class PortalAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the portal's site: administrators (the ``admin`` role) only."""

    default = False  # "portal" itself still means PortalConfig
    default_site = "portal.admin_site.PortalAdminSite"


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Permissions exist only after migrate; the role groups are (re)built right after it.
        post_migrate.connect(_ensure_role_groups, dispatch_uid="portal-role-groups")
        # Every failed login (web, admin, API token) is logged; the request id ends with its request.
        from django.contrib.auth.signals import user_login_failed
        from django.core.signals import request_finished

        from . import tasks  # noqa: F401 - registered with Celery (portal.queue queues them by name)
        from .observability import login_failed, request_id_clear

        user_login_failed.connect(login_failed, dispatch_uid="portal-login-failed")
        request_finished.connect(request_id_clear, dispatch_uid="portal-request-id-clear")
