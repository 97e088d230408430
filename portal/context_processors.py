"""What every page's layout needs: the portal's name, the navigation by role, who is signed in."""

from __future__ import annotations

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from organisation.roles import Role

# The roles that work the approval chain's queues (programme.md §3).
CHAIN_ROLES = {Role.CLERK, Role.DISTRICT_REVIEWER, Role.CITY_REVIEWER, Role.DEPARTMENT_HEAD, Role.LEADER}

# (url name, label, roles that see it; None = every signed-in member of staff).
# An entry whose URL does not exist (yet) is skipped, so apps can be added one by one.
NAV_ITEMS = [
    ("home", _("Home"), None),
    ("workflow:my-queues", _("My queues"), CHAIN_ROLES),
    ("workflow:application-create", _("New application"), {Role.CLERK}),
    ("billing:account-list", _("Accounts"), None),
    ("dashboard", _("Dashboard"), {Role.MANAGER, Role.DISTRICT_REVIEWER}),
    ("admin:index", _("Administration"), {Role.ADMIN}),
]


def _is_active(path: str, url: str) -> bool:
    """The home entry is active only on "/"; any other entry also on the pages below it."""
    if url == "/":
        return path == "/"
    return path.startswith(url)


def _role_labels(user) -> list[str]:
    held = user.roles
    return [role.label for role in Role if role.value in held]


def navigation(request):
    context = {"PORTAL_NAME": getattr(settings, "PORTAL_NAME", "")}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        context.update(nav_items=[], user_role_labels=[])
        return context
    items = []
    for url_name, label, roles in NAV_ITEMS:
        if roles is not None and not (user.is_superuser or user.has_role(*roles)):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"url": url, "label": label, "active": _is_active(request.path, url)})
    context.update(nav_items=items, user_role_labels=_role_labels(user))
    return context
