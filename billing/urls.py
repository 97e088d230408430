from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("", views.AccountListView.as_view(), name="account-list"),
    path("<str:account_no>/", views.AccountDetailView.as_view(), name="account-detail"),
    path("<str:account_no>/bills/<str:period>/pdf/", views.BillStatementPdfView.as_view(), name="bill-statement-pdf"),
]
