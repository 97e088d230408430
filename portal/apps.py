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
