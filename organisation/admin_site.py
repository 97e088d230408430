"""The portal's Django admin site: for administrators (the ``admin`` role) and superusers only.

``portal.apps.PortalAdminConfig`` makes it ``django.contrib.admin.site``, so every app's
``admin.py`` registers on it with ``@admin.register``. Any other role is refused, even with
``is_staff`` set: the login form does not let it in and every admin view sends it to the login.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from .roles import Role


def may_administer(user) -> bool:
    """Who may use the admin: an active superuser or an active holder of the ``admin`` role."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.has_role(Role.ADMIN)


class PortalAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, with the portal's rule instead of ``is_staff``."""

    def confirm_login_allowed(self, user):
        if not may_administer(user):
            raise ValidationError(
                _("Only administrators may use the administration site."),
                code="invalid_login",
            )


class PortalAdminSite(admin.AdminSite):
    site_header = _("Relief portal administration")
    site_title = _("Relief portal administration")
    index_title = _("Administration")
    login_form = PortalAdminAuthenticationForm

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        # Deny by default: no bulk delete anywhere; an admin that allows deleting checks each object.
        self._actions = {}
        self._global_actions = {}

    def has_permission(self, request) -> bool:
        return may_administer(request.user)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Look, never touch: no add, change or delete for anyone (superusers included).

    For the records the portal writes itself (accounts and bills from imports, the ledger and
    posting jobs from the posting, decisions from the chain): an edit here would bypass the rules
    that wrote them. Big tables: no full count, and no filter that lists a big table's rows.
    """

    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class HistoryViewOnlyMixin:
    """django-simple-history's history page without its "revert": a past version is only shown.

    A revert would save an old version past the rules the change form applies.
    """

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class ServiceRefusalMixin:
    """A service may refuse at save time what the form accepted (someone else changed the data
    meanwhile): the transaction is rolled back, nothing is written, and the message is shown."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
