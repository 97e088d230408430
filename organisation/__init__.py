"""The organisation: staff, their roles and districts, district scoping, and the plumbing every app
shares (domain errors, the API base, queueing tasks by name, the admin site, change history).

The bottom layer: it imports no other app of the project. Its Django app label is ``portal``, the
label these models had when they lived in the ``portal`` package: the tables (``portal_user``,
``portal_district``, …), the migration history, the content types and permissions
(``portal.view_dashboard``) and ``AUTH_USER_MODEL = "portal.User"`` stay exactly as they were.
"""
