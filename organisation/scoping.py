"""District scoping: every list and detail page a district-bound user opens is limited to it."""

from __future__ import annotations

from django.db.models import QuerySet


def scope_to_user(queryset: QuerySet, user, *, district_field: str = "district") -> QuerySet:
    """Limit ``queryset`` to what ``user`` may see.

    City-level roles see everything; clerks and district reviewers see their own district;
    anyone else (no role, or a district role without a district) sees nothing.
    """
    if getattr(user, "sees_all_districts", False):
        return queryset
    district_id = getattr(user, "district_id", None)
    if district_id is None or not getattr(user, "roles", None):
        return queryset.none()
    return queryset.filter(**{f"{district_field}_id": district_id})
