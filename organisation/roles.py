"""The roles of programme.md §2, held as auth groups named by the role code."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CLERK = "clerk", _("Clerk")
    DISTRICT_REVIEWER = "district_reviewer", _("District reviewer")
    CITY_REVIEWER = "city_reviewer", _("City reviewer")
    DEPARTMENT_HEAD = "department_head", _("Department head")
    LEADER = "leader", _("Leader")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Administrator")


# Roles that act only inside one district; a user holding one of them must have a district.
DISTRICT_ROLES = frozenset({Role.CLERK, Role.DISTRICT_REVIEWER})
# Roles whose scope is the whole city.
CITY_ROLES = frozenset(set(Role) - DISTRICT_ROLES)

# Model permissions granted to each role's group ("app_label.codename").
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.CLERK: ("billing.view_account", "billing.view_bill"),
    Role.DISTRICT_REVIEWER: ("billing.view_account", "billing.view_bill"),
    Role.CITY_REVIEWER: ("billing.view_account", "billing.view_bill"),
    Role.DEPARTMENT_HEAD: ("billing.view_account", "billing.view_bill"),
    Role.LEADER: ("billing.view_account", "billing.view_bill"),
    Role.MANAGER: ("billing.view_account", "billing.view_bill", "portal.view_dashboard"),
    # The Django admin (docs/admin.md). No delete_user: a person is disabled, never deleted. Deleting
    # a tariff or a district is further limited per object (unused tariff, district without staff
    # or accounts); the ledger, decisions and posting jobs are read-only whatever the permission.
    Role.ADMIN: (
        "billing.view_account",
        "billing.view_bill",
        "billing.view_tariff",
        "billing.add_tariff",
        "billing.change_tariff",
        "billing.delete_tariff",
        "billing.view_policy",
        "billing.change_policy",
        "billing.view_ledgerentry",
        "billing.view_postingjob",
        "workflow.view_decision",
        "portal.view_user",
        "portal.add_user",
        "portal.change_user",
        "portal.view_district",
        "portal.add_district",
        "portal.change_district",
        "portal.delete_district",
    ),
}
