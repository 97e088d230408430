from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The shell: settings, the Celery app, URL confs, home page, health, logging. No models."""

    name = "portal"
    label = "shell"
    verbose_name = "Portal shell"

    def ready(self) -> None:
        # Every failed login (web, admin, API token) is logged; the request id ends with its request.
        from django.contrib.auth.signals import user_login_failed
        from django.core.signals import request_finished

        from .observability import login_failed, request_id_clear

        user_login_failed.connect(login_failed, dispatch_uid="portal-login-failed")
        request_finished.connect(request_id_clear, dispatch_uid="portal-request-id-clear")
