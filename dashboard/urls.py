"""The dashboard's pages under ``/dashboard/`` (included by ``portal.urls``, names without a namespace).

``GET /api/v1/stats/`` is routed by ``portal.api_urls`` (namespace ``api``) to ``dashboard.api.StatsView``.
"""

from django.urls import path

from . import drilldowns, views

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("accounts/", drilldowns.DashboardAccountsView.as_view(), name="dashboard-accounts"),
    path("items/", drilldowns.DashboardItemsView.as_view(), name="dashboard-items"),
    path("report.pdf", views.DashboardReportView.as_view(), name="dashboard-report"),
    path("export/<slug:table>.<str:fmt>", views.DashboardExportView.as_view(), name="dashboard-export"),
]
