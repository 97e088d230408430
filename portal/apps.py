from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_role_groups(sender, **kwargs):
    from .services import roles_ensure_groups

    roles_ensure_groups()


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Permissions exist only after migrate; the role groups are (re)built right after it.
        post_migrate.connect(_ensure_role_groups, sender=self, dispatch_uid="portal-role-groups")
        # Every failed login (web, admin, API token) is logged; the request id ends with its request.
        from django.contrib.auth.signals import user_login_failed
        from django.core.signals import request_finished

        from .observability import login_failed, request_id_clear

        user_login_failed.connect(login_failed, dispatch_uid="portal-login-failed")
        request_finished.connect(request_id_clear, dispatch_uid="portal-request-id-clear")
