from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import dashboard, health, views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    # The load balancer's and monitoring's check: no login, no data (docs/operations.md "Health").
    path("healthz", health.healthz, name="healthz"),
    path("dashboard/", dashboard.DashboardView.as_view(), name="dashboard"),
    path("dashboard/accounts/", dashboard.DashboardAccountsView.as_view(), name="dashboard-accounts"),
    path("dashboard/items/", dashboard.DashboardItemsView.as_view(), name="dashboard-items"),
    path("dashboard/report.pdf", dashboard.DashboardReportView.as_view(), name="dashboard-report"),
    path("dashboard/export/<slug:table>.<str:fmt>", dashboard.DashboardExportView.as_view(), name="dashboard-export"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("customers/", include("billing.urls")),
    path("work/", include("workflow.urls")),
    path("api/v1/", include("portal.api_urls")),
    path("admin/", admin.site.urls),
]
