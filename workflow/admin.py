"""Read-only view of the decisions of the chain (docs/admin.md): they are the record, never edited."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from organisation.admin_site import ReadOnlyAdmin

from .models import Decision


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("at", "item", "level", "action", "from_state", "to_state", "reason_code", "actor")
    list_filter = ("level", "action", "reason_code")
    list_select_related = ("actor",)
    search_fields = ("=application__id", "=eligibility_list__id", "actor__username")
    search_help_text = _("Number of the application or eligibility list, or the decider's user name.")
    raw_id_fields = ("application", "eligibility_list", "actor")
    ordering = ("-at", "-id")

    @admin.display(description=_("item"))
    def item(self, obj: Decision) -> str:
        if obj.application_id:
            return f"{_('application')} #{obj.application_id}"
        return f"{_('eligibility list')} #{obj.eligibility_list_id}"
