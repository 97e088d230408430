"""The chain's pages under /work/ (namespace ``workflow``): one view per action."""

from django.urls import path

from . import views

app_name = "workflow"

urlpatterns = [
    path("queues/", views.MyQueuesView.as_view(), name="my-queues"),
    path("queues/<str:level>/", views.QueueView.as_view(), name="queue"),
    path("queues/<str:level>/forward/", views.BulkForwardView.as_view(), name="queue-bulk"),
    path("applications/new/", views.ApplicationCreateView.as_view(), name="application-create"),
    path("applications/<int:pk>/", views.ApplicationDetailView.as_view(), name="application-detail"),
    path("applications/<int:pk>/verification/", views.VerificationView.as_view(), name="application-verification"),
    path("applications/<int:pk>/submit/", views.ApplicationSubmitView.as_view(), name="application-submit"),
    path("applications/<int:pk>/approve/", views.ApplicationApproveView.as_view(), name="application-approve"),
    path("applications/<int:pk>/return/", views.ApplicationReturnView.as_view(), name="application-return"),
    path("applications/<int:pk>/reject/", views.ApplicationRejectView.as_view(), name="application-reject"),
    path("applications/<int:pk>/withdraw/", views.ApplicationWithdrawView.as_view(), name="application-withdraw"),
    path("scans/<int:pk>/", views.ScanDownloadView.as_view(), name="scan-download"),
    path("lists/", views.ListIndexView.as_view(), name="list-index"),
    path("lists/prescreen/", views.ListPrescreenView.as_view(), name="list-prescreen"),
    path("lists/prescreen/<int:pk>/", views.PrescreenRunStatusView.as_view(), name="list-prescreen-run"),
    path("lists/<int:pk>/", views.ListDetailView.as_view(), name="list-detail"),
    path("lists/<int:pk>/entries/", views.ListEntryChangeView.as_view(), name="list-entry-change"),
    path("lists/<int:pk>/submit/", views.ListSubmitView.as_view(), name="list-submit"),
    path("lists/<int:pk>/approve/", views.ListApproveView.as_view(), name="list-approve"),
    path("lists/<int:pk>/return/", views.ListReturnView.as_view(), name="list-return"),
    path("lists/<int:pk>/reject/", views.ListRejectView.as_view(), name="list-reject"),
    path("lists/<int:pk>/withdraw/", views.ListWithdrawView.as_view(), name="list-withdraw"),
]
