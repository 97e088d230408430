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
from dashboard import api as dashboard_api
from organisation import api
from workflow import api as workflow_api
from workflow import views as workflow_views

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
    path("ledger/", billing_api.LedgerListView.as_view(), name="ledger"),
    path("stats/", dashboard_api.StatsView.as_view(), name="stats"),
    # Ids are taken as text and checked in the view, so that "abc" answers a JSON 404 like an unknown id.
    path("applications/", workflow_api.ApplicationListView.as_view(), name="application-list"),
    path("applications/<str:id>/", workflow_api.ApplicationDetailView.as_view(), name="application-detail"),
    path(
        "applications/<str:id>/verification/",
        workflow_api.ApplicationVerificationView.as_view(),
        name="application-verification",
    ),
    path(
        "applications/<str:id>/transitions/<str:action>/",
        workflow_api.ApplicationTransitionView.as_view(),
        name="application-transition",
    ),
    # Progress of an approved item's posting job (the item pages poll it).
    path(
        "applications/<str:id>/posting-job/",
        workflow_views.ApplicationPostingJobView.as_view(),
        name="application-posting-job",
    ),
    path("eligibility-lists/", workflow_api.EligibilityListListView.as_view(), name="eligibility-list-list"),
    path(
        "eligibility-lists/<str:id>/",
        workflow_api.EligibilityListDetailView.as_view(),
        name="eligibility-list-detail",
    ),
    path(
        "eligibility-lists/<str:id>/entries/",
        workflow_api.EligibilityEntryListView.as_view(),
        name="eligibility-list-entries",
    ),
    path(
        "eligibility-lists/<str:id>/transitions/<str:action>/",
        workflow_api.EligibilityListTransitionView.as_view(),
        name="eligibility-list-transition",
    ),
    path(
        "eligibility-lists/<str:id>/posting-job/",
        workflow_views.ListPostingJobView.as_view(),
        name="eligibility-list-posting-job",
    ),
]
