"""The HTTP API under /api/v1/ (interfaces.md §2)."""

from django.urls import path

urlpatterns: list = [
    # Filled in by portal.api and each app's api module.
]
_ = path
