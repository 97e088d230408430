"""The HTTP API under /api/v1/ (interfaces.md §2), namespace ``api``.

The schema and its browsable docs are private like the rest of the portal: the schema answers
401 to an anonymous caller, the docs page sends a browser to the login page. The docs load
Swagger UI from the project's own static files (drf-spectacular-sidecar), never from a CDN.
"""

from django.contrib.auth.decorators import login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated

from billing import api as billing_api

from . import api

app_name = "api"

urlpatterns = [
    path("auth/token/", api.TokenObtainView.as_view(), name="token"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]), name="schema"),
    path(
        "schema/docs/",
        login_required(SpectacularSwaggerView.as_view(url_name="api:schema", permission_classes=[IsAuthenticated])),
        name="docs",
    ),
    path("customers/<str:account_no>/", billing_api.CustomerDetailView.as_view(), name="customer-detail"),
    path("customers/<str:account_no>/bills/", billing_api.CustomerBillsView.as_view(), name="customer-bills"),
]
