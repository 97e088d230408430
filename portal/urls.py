from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import health, views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    # The load balancer's and monitoring's check: no login, no data (docs/operations.md "Health").
    path("healthz", health.healthz, name="healthz"),
    # The managers' dashboard (the dashboard app; its URL names have no namespace: 'dashboard', 'dashboard-…').
    path("dashboard/", include("dashboard.urls")),
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
