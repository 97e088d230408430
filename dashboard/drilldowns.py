"""The lists behind the dashboard's figures: the accounts behind a money or accounts figure (from
``billing.stats``' account-month rows) and the applications or eligibility lists behind a count
(from ``workflow.stats``), paged without a count of the whole list.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView
from django_tables2.paginators import LazyPaginator

from billing import stats as billing_stats
from billing.models import Category, StatsMetric
from organisation.models import District
from workflow import stats as workflow_stats
from workflow.chain import Action, Level, ReasonCode, State
from workflow.models import ApplicationKind, Channel

from .filters import Filters, dashboard_district, filters_from, scope_districts
from .measures import OTHER, OTHER_CATEGORIES, Figure

PER_PAGE = 50


class _DrillDownMixin:
    def _filters(self) -> tuple[Filters, list[District]]:
        user = self.request.user
        fixed = dashboard_district(user)
        districts = scope_districts(fixed)
        filters, _form = filters_from(self.request.GET, user=user, districts=districts, months=())
        return filters, districts

    def _page(self, queryset):
        try:
            number = max(int(self.request.GET.get("page", "1")), 1)
        except ValueError:
            number = 1
        return LazyPaginator(queryset, PER_PAGE).page(number)

    def _page_url(self, number: int) -> str:
        params = self.request.GET.copy()
        params["page"] = str(number)
        return f"?{params.urlencode()}"


class DashboardAccountsView(_DrillDownMixin, TemplateView):
    """The accounts behind a money or accounts figure, each with its amount; they add up to the figure."""

    template_name = "dashboard/accounts.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filters, districts = self._filters()
        metric = self.request.GET.get("metric", StatsMetric.ALL.value)
        if metric not in billing_stats.METRICS:
            raise Http404
        raw_category = self.request.GET.get("category", "")
        categories = (
            list(OTHER_CATEGORIES) if raw_category == OTHER else ([filters.category] if filters.category else None)
        )
        where = {
            "metric": metric,
            "period": filters.period,
            "district_id": filters.district_id,
            "categories": categories,
        }
        rows = billing_stats.stats_accounts(**where)
        summary = billing_stats.stats_accounts_summary(**where)
        page = self._page(rows)
        names = {d.pk: d.name for d in districts}
        for row in page.object_list:
            row["district_name"] = names.get(row["district_id"], "")
            row["category_label"] = Category(row["category"]).label if row["category"] in Category.values else ""
            row["url"] = reverse("billing:account-detail", args=[row["account__account_no"]])
            row["ledger_url"] = f"{reverse('api:ledger')}?{urlencode({'account_no': row['account__account_no']})}"
        context.update(
            filters=filters,
            metric=metric,
            metric_label=StatsMetric(metric).label,
            category_label=_("Other categories")
            if raw_category == OTHER
            else (Category(filters.category).label if filters.category else _("All categories")),
            page=page,
            summary=summary,
            figure=Figure(summary["accounts"], summary["amount"]),
            is_arrears=metric in (StatsMetric.PROTECTED, StatsMetric.IN_ARREARS),
            previous_url=self._page_url(page.number - 1) if page.has_previous() else "",
            next_url=self._page_url(page.number + 1) if page.has_next() else "",
            back_url=f"{reverse('dashboard')}?{filters.query()}",
        )
        return context


class DashboardItemsView(_DrillDownMixin, TemplateView):
    """The applications (or eligibility lists) behind a count of the dashboard."""

    template_name = "dashboard/items.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filters, _districts = self._filters()
        get = self.request.GET
        items = get.get("items", "applications")
        states = [s for s in get.get("states", "").split(",") if s in State.values] or None
        overdue = get.get("overdue") if get.get("overdue") in workflow_stats.LEVELS else None
        decided_level = get.get("decided_level") if get.get("decided_level") in workflow_stats.LEVELS else None
        described = []
        if items == "lists":
            queryset = workflow_stats.lists_behind(
                district_id=filters.district_id, states=states, overdue_level=overdue
            )
        elif items == "applications":
            kind = get.get("kind") if get.get("kind") in ApplicationKind.values else None
            channel = get.get("channel") if get.get("channel") in Channel.values else None
            decision = get.get("decision") if get.get("decision") in (Action.RETURN, Action.REJECT) else None
            reason_code = get.get("reason_code")
            if reason_code == "-":
                reason_code = ""
            elif reason_code not in ReasonCode.values:
                reason_code = None
            queryset = workflow_stats.applications_behind(
                district_id=filters.district_id,
                category=filters.category,
                period=filters.period,
                kind=kind,
                states=states,
                channel=channel,
                overdue_level=overdue,
                decision_action=decision,
                reason_code=reason_code,
                decided_level=decided_level,
            )
            if kind:
                described.append(ApplicationKind(kind).label)
            if channel:
                described.append(Channel(channel).label)
            if decision:
                described.append(Action(decision).label)
            if reason_code:
                described.append(ReasonCode(reason_code).label)
            if decided_level:
                described.append(_("decided at %(level)s") % {"level": Level(decided_level).label})
        else:
            raise Http404
        if states:
            described.append(" / ".join(str(State(s).label) for s in states))
        if overdue:
            described.append(_("overdue at %(level)s") % {"level": Level(overdue).label})
        page = self._page(queryset)
        context.update(
            filters=filters,
            items=items,
            page=page,
            described=described,
            previous_url=self._page_url(page.number - 1) if page.has_previous() else "",
            next_url=self._page_url(page.number + 1) if page.has_next() else "",
            back_url=f"{reverse('dashboard')}?{filters.query()}",
            now=timezone.now(),
        )
        return context
