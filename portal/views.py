"""The portal shell: the per-role landing page and the language switch."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_not_required
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views import i18n
from django.views.generic import TemplateView

from organisation.roles import DISTRICT_ROLES, Role


@dataclass(frozen=True)
class GuideLink:
    url_name: str
    label: Promise
    query: str = ""


@dataclass(frozen=True)
class RoleGuide:
    """What a role does in the programme (programme.md §2) and where to start."""

    role: Role
    level: Promise
    duties: tuple[Promise, ...]
    links: tuple[GuideLink, ...] = field(default=())


ACCOUNTS = GuideLink("billing:account-list", _("Look up an account"))
ELIGIBLE_ACCOUNTS = GuideLink("billing:account-list", _("Accounts eligible for the 95% measure"), "eligible=yes")
HIGH_ENERGY_ACCOUNTS = GuideLink("billing:account-list", _("High-energy accounts (not eligible)"), "high_energy=yes")
NEW_APPLICATION = GuideLink("workflow:application-create", _("Enter an application"))
ELIGIBILITY_LISTS = GuideLink("workflow:list-index", _("District eligibility lists"))


def queue_link(level: str) -> GuideLink:
    """The role's own queue of the approval chain (workflow.queues levels)."""
    return GuideLink("workflow:my-queues", _("My queue"), f"level={level}")


# Links whose URL does not exist yet are left out, so each app can add its own as it lands.
ROLE_GUIDES: dict[str, RoleGuide] = {
    guide.role.value: guide
    for guide in (
        RoleGuide(
            Role.CLERK,
            _("Report level 1"),
            (
                _("Enter applications at the counter, from paper forms and for a proxy acting for a relative."),
                _("Upload the scanned forms and documents."),
                _("Submit applications for district review."),
            ),
            (NEW_APPLICATION, queue_link("report_1"), ACCOUNTS),
        ),
        RoleGuide(
            Role.DISTRICT_REVIEWER,
            _("Report level 2"),
            (
                _("Verify capacity-change applications: meter-data check and site survey."),
                _("Approve the district's eligibility list and report it to the city company."),
            ),
            (queue_link("report_2"), ELIGIBLE_ACCOUNTS, HIGH_ENERGY_ACCOUNTS, ACCOUNTS),
        ),
        RoleGuide(
            Role.CITY_REVIEWER,
            _("Approval level 1"),
            (_("Check the districts' applications and eligibility lists and approve or return them."),),
            (queue_link("approval_1"), ELIGIBILITY_LISTS, ELIGIBLE_ACCOUNTS, ACCOUNTS),
        ),
        RoleGuide(
            Role.DEPARTMENT_HEAD,
            _("Approval level 2"),
            (_("Approve what the city reviewer passed, or return it."),),
            (queue_link("approval_2"), ACCOUNTS),
        ),
        RoleGuide(
            Role.LEADER,
            _("Approval level 3 (final)"),
            (_("Give the final approval; approved items are then settled to the accounts."),),
            (queue_link("approval_3"), ACCOUNTS),
        ),
        RoleGuide(
            Role.MANAGER,
            _("Read-only"),
            (_("Follow the programme on dashboards, reports and exports."),),
            (ACCOUNTS,),
        ),
        RoleGuide(
            Role.ADMIN,
            _("No approvals"),
            (_("Maintain tariffs, policies and staff accounts."),),
            (GuideLink("admin:index", _("Administration")), ACCOUNTS),
        ),
    )
}


def _resolve_links(links: tuple[GuideLink, ...]) -> list[dict]:
    resolved = []
    for link in links:
        try:
            url = reverse(link.url_name)
        except NoReverseMatch:
            continue
        resolved.append({"url": f"{url}?{link.query}" if link.query else url, "label": link.label})
    return resolved


class HomeView(TemplateView):
    """A landing page per role: what the role does in the programme, and where to start."""

    template_name = "portal/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        held = [role for role in Role if role.value in user.roles]
        guides = []
        for role in held:
            guide = ROLE_GUIDES[role.value]
            guides.append(
                {
                    "role": role,
                    "level": guide.level,
                    "duties": guide.duties,
                    "district_bound": role in DISTRICT_ROLES,
                    "links": _resolve_links(guide.links),
                }
            )
        context.update(guides=guides, account_list_url=reverse("billing:account-list"))
        return context


@login_not_required
def set_language(request):
    """Django's language switch, open before signing in so that the login page can offer it."""
    return i18n.set_language(request)
