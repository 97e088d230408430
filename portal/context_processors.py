"""Navigation by role: each entry is shown only to the roles that may use it."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from .roles import Role

# (url name, label, roles that see it; None = every signed-in member of staff)
NAV_ITEMS = [
    ("home", _("Home"), None),
    ("billing:account-list", _("Accounts"), None),
    ("admin:index", _("Administration"), {Role.ADMIN}),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    for url_name, label, roles in NAV_ITEMS:
        if roles is not None and not (user.is_superuser or user.has_role(*roles)):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append(
            {"url": url, "label": label, "active": request.path.startswith(url) and url != "/" or request.path == url}
        )
    return {"nav_items": items}
